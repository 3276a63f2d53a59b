/* download.c — `voxtts download [DIR]`: fetch the official model files.
 *
 * Lists the Hugging Face repository (mistralai/Voxtral-4B-TTS-2603 by default)
 * through its tree API, then fetches params.json, tekken.json,
 * consolidated.safetensors and every voice_embedding/NAME.pt with curl.  Each file is
 * written to NAME.part, resumed with an HTTP range request if a previous run was
 * interrupted, checked against the size the listing gives, and only then renamed
 * into place; files already present with the right size are skipped.  HF_TOKEN,
 * when set, is sent as a bearer token (through a private header file, never on the
 * command line); HF_ENDPOINT overrides the server (the tests use a loopback one). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_REPO "mistralai/Voxtral-4B-TTS-2603"

typedef struct {
    char *path;
    long long size;
} remote_file;

/* One curl run: its exit status (-1 if it could not run) and the HTTP status
 * of the last response (0 if none), which curl prints on stdout (-w). */
typedef struct curl_result {
    int exit_code;
    int http;
} curl_result;

static curl_result run_curl(char *const *args) {
    curl_result r = {-1, 0};
    int fds[2];
    if (pipe(fds) != 0) return r;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return r;
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 1);
        close(fds[1]);
        execvp("curl", args);
        fprintf(stderr, "voxtts: cannot run curl: %s (install it: apt-get install curl)\n",
                strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char buf[64];
    size_t got = 0;
    ssize_t k;
    while ((k = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0 || (k < 0 && errno == EINTR))
        if (k > 0) got += (size_t)k;
    close(fds[0]);
    buf[got] = '\0';
    r.http = atoi(buf);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return r;
    }
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

/* A transient failure worth another try: refused or dropped connections,
 * timeouts, server errors (DNS failures and 4xx answers are final). */
static int transient(curl_result r) {
    if (r.exit_code == 22) return r.http >= 500 || r.http == 408 || r.http == 429;
    return r.exit_code == 7 || r.exit_code == 18 || r.exit_code == 28 || r.exit_code == 52 ||
           r.exit_code == 55 || r.exit_code == 56;
}

/* What went wrong, for people: names the cause, not curl's number alone. */
static void explain(curl_result r, const char *what, const char *endpoint, int have_token) {
    const char *why;
    char tmp[160];
    switch (r.exit_code) {
    case 6: why = "cannot resolve the server's name (DNS failure or no network)"; break;
    case 7: why = "cannot connect to the server (connection refused or host unreachable)"; break;
    case 28: why = "timed out: the server stopped answering (see --stall-timeout)"; break;
    case 23: why = "cannot write the file (disk full or not writable?)"; break;
    case 18: case 52: case 56: why = "the connection broke off; run the command again to resume"; break;
    case 35: case 60: why = "TLS/certificate error"; break;
    case 127: why = "curl is not installed (apt-get install curl)"; break;
    case 22:
        if (r.http == 401 || r.http == 403)
            why = have_token ? "access denied (HTTP 401/403): HF_TOKEN is not accepted for this repository "
                               "(accept the model's licence on its page?)"
                             : "access denied (HTTP 401/403): the repository is gated; set HF_TOKEN";
        else if (r.http == 404)
            why = "not found (HTTP 404): wrong repository or revision?";
        else {
            snprintf(tmp, sizeof tmp, "the server answered HTTP %d", r.http);
            why = tmp;
        }
        break;
    default: snprintf(tmp, sizeof tmp, "curl failed (exit %d)", r.exit_code); why = tmp; break;
    }
    fprintf(stderr, "voxtts: %s from %s: %s\n", what, endpoint, why);
}

/* Run curl with retries and backoff (1 s, 2 s, 4 s ...) on transient failures. */
static curl_result run_curl_retrying(char *const *args, int tries) {
    curl_result r = {-1, 0};
    for (int t = 0; t < tries; t++) {
        if (t > 0) {
            fprintf(stderr, "voxtts: retrying in %d s\n", 1 << (t - 1));
            sleep(1u << (t - 1));
        }
        r = run_curl(args);
        if (r.exit_code == 0 || !transient(r)) break;
    }
    return r;
}

static long env_seconds(const char *name, long dflt) {
    const char *v = getenv(name);
    char *end;
    long x = v && *v ? strtol(v, &end, 10) : dflt;
    return v && *v && (*end || x <= 0) ? dflt : x;
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int mkdir_p(const char *dir) {
    char buf[4096];
    if (strlen(dir) >= sizeof buf) return -1;
    strcpy(buf, dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) && errno != EEXIST) return -1;
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) && errno != EEXIST) return -1;
    return 0;
}

/* A listed path is used as a local file name: refuse anything that could escape DIR. */
static int safe_rel_path(const char *p) {
    if (!*p || p[0] == '/' || strstr(p, "..") || strchr(p, '\\')) return 0;
    return 1;
}

static int wanted(const char *p) {
    if (!strcmp(p, "params.json") || !strcmp(p, "tekken.json") ||
        !strcmp(p, "consolidated.safetensors"))
        return 1;
    size_t n = strlen(p);
    return strncmp(p, "voice_embedding/", 16) == 0 && n > 19 && !strcmp(p + n - 3, ".pt") &&
           !strchr(p + 16, '/');
}

static int parse_listing(const char *json_path, remote_file **out, int *n_out) {
    char *text = NULL;
    size_t len = 0;
    if (cli_read_text_file(json_path, &text, &len)) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsArray(root)) {
        fprintf(stderr, "voxtts: the repository listing is not a JSON array (wrong repository?)\n");
        cJSON_Delete(root);
        return -1;
    }
    int cap = cJSON_GetArraySize(root), n = 0;
    remote_file *files = calloc((size_t)(cap > 0 ? cap : 1), sizeof *files);
    if (!files) { cJSON_Delete(root); return -1; }
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(e, "path");
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(e, "size");
        const cJSON *lfs = cJSON_GetObjectItemCaseSensitive(e, "lfs");
        if (cJSON_IsObject(lfs) && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(lfs, "size")))
            size = cJSON_GetObjectItemCaseSensitive(lfs, "size");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "file") || !cJSON_IsString(path) ||
            !cJSON_IsNumber(size) || !wanted(path->valuestring))
            continue;
        if (!safe_rel_path(path->valuestring) || size->valuedouble < 0) {
            fprintf(stderr, "voxtts: refusing suspicious listing entry '%s'\n", path->valuestring);
            continue;
        }
        files[n].path = strdup(path->valuestring);
        files[n].size = (long long)size->valuedouble;
        if (!files[n].path) break;
        n++;
    }
    cJSON_Delete(root);
    *out = files;
    *n_out = n;
    return 0;
}

static void dl_usage(FILE *f) {
    fprintf(f,
            "usage: voxtts download [DIR] [--repo OWNER/NAME] [--revision REV] [--dry-run]\n"
            "                       [--connect-timeout S] [--stall-timeout S] [--retries N]\n"
            "Fetches params.json, tekken.json, consolidated.safetensors (8 GB) and the preset voices\n"
            "into DIR (default: $VOXTTS_MODEL or %s), resuming interrupted downloads.\n"
            "  --dry-run            list what would be fetched, fetch nothing\n"
            "  --connect-timeout S  give up connecting after S seconds (default 30)\n"
            "  --stall-timeout S    give up when less than 1 KB/s arrives for S seconds (default 60)\n"
            "  --retries N          tries per file on transient failures, with backoff (default 4)\n"
            "Environment: HF_TOKEN (sent as a bearer token), HF_ENDPOINT (default https://huggingface.co).\n"
            "The weights are licensed CC BY-NC 4.0.\n",
            VOX_DEFAULT_MODEL_DIR);
}

int cli_download_main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"repo", required_argument, 0, 'r'},
        {"revision", required_argument, 0, 'R'},
        {"dry-run", no_argument, 0, 'n'},
        {"connect-timeout", required_argument, 0, 'C'},
        {"stall-timeout", required_argument, 0, 'S'},
        {"retries", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *repo = DEFAULT_REPO, *rev = "main";
    int c, dry_run = 0;
    long connect_s = env_seconds("VOXTTS_CONNECT_TIMEOUT", 30), stall_s = env_seconds("VOXTTS_STALL_TIMEOUT", 60);
    long tries = 4;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': repo = optarg; break;
        case 'R': rev = optarg; break;
        case 'n': dry_run = 1; break;
        case 'C': if (cli_parse_int("--connect-timeout", optarg, 1, 3600, &connect_s)) return 2; break;
        case 'S': if (cli_parse_int("--stall-timeout", optarg, 1, 3600, &stall_s)) return 2; break;
        case 'T': if (cli_parse_int("--retries", optarg, 1, 20, &tries)) return 2; break;
        case 'h': dl_usage(stdout); return 0;
        default: dl_usage(stderr); return 2;
        }
    }
    if (argc - optind > 1) { dl_usage(stderr); return 2; }
    const char *dir = optind < argc ? argv[optind] : cli_default_model_dir();
    const char *endpoint = getenv("HF_ENDPOINT");
    if (!endpoint || !*endpoint) endpoint = "https://huggingface.co";
    const char *token = getenv("HF_TOKEN");
    int quiet_curl = !isatty(2);

    /* A first download that fails must not leave an empty directory behind
     * (the next run would then report a missing params.json instead of
     * downloading again): remember whether we made it. */
    struct stat dst;
    const int dir_existed = stat(dir, &dst) == 0;
    if (dir_existed && !S_ISDIR(dst.st_mode)) {
        fprintf(stderr, "voxtts: '%s' exists and is not a directory\n", dir);
        return 1;
    }
    if (mkdir_p(dir)) {
        fprintf(stderr, "voxtts: cannot create directory '%s': %s\n", dir, strerror(errno));
        return 1;
    }
    int rc = 1, n_files = 0;
    remote_file *files = NULL;
    char header_file[4096] = "", listing[4096], url[8192], dest[4096], part[4200];
    char connect_arg[32], stall_arg[32], listing_max[32];
    snprintf(connect_arg, sizeof connect_arg, "%ld", connect_s);
    snprintf(stall_arg, sizeof stall_arg, "%ld", stall_s);
    snprintf(listing_max, sizeof listing_max, "%ld", connect_s + 2 * stall_s);
    snprintf(listing, sizeof listing, "%s/.voxtts-listing.json", dir);

    /* The token travels in a 0600 header file so it never shows in `ps`. */
    if (token && *token) {
        snprintf(header_file, sizeof header_file, "%s/.voxtts-auth-XXXXXX", dir);
        int fd = mkstemp(header_file);
        if (fd < 0) {
            fprintf(stderr, "voxtts: cannot create a private header file in '%s'\n", dir);
            header_file[0] = '\0';
            goto out;
        }
        FILE *hf = fdopen(fd, "w");
        if (!hf) {
            close(fd);
            goto out;
        }
        fprintf(hf, "Authorization: Bearer %s\n", token);
        fclose(hf);
    }
    char hdr_arg[4200];
    snprintf(hdr_arg, sizeof hdr_arg, "@%s", header_file);

    snprintf(url, sizeof url, "%s/api/models/%s/tree/%s?recursive=true", endpoint, repo, rev);
    {
        char *args[24];
        int k = 0;
        args[k++] = "curl"; args[k++] = "-fsSL"; args[k++] = "-w"; args[k++] = "%{http_code}";
        args[k++] = "--connect-timeout"; args[k++] = connect_arg;
        args[k++] = "--max-time"; args[k++] = listing_max;
        args[k++] = "--speed-limit"; args[k++] = "1"; args[k++] = "--speed-time"; args[k++] = stall_arg;
        if (header_file[0]) { args[k++] = "-H"; args[k++] = hdr_arg; }
        args[k++] = "-o"; args[k++] = listing; args[k++] = url; args[k] = NULL;
        curl_result r = run_curl_retrying(args, (int)tries);
        if (r.exit_code != 0) {
            char what[600];
            snprintf(what, sizeof what, "cannot list %s", repo);
            explain(r, what, endpoint, token && *token);
            goto out;
        }
    }
    if (parse_listing(listing, &files, &n_files)) goto out;
    const char *required[] = {"params.json", "tekken.json", "consolidated.safetensors"};
    for (int r = 0; r < 3; r++) {
        int found = 0;
        for (int i = 0; i < n_files; i++) found |= !strcmp(files[i].path, required[r]);
        if (!found) {
            fprintf(stderr, "voxtts: %s has no %s: is this the Voxtral TTS repository?\n", repo,
                    required[r]);
            goto out;
        }
    }
    if (dry_run) {
        long long total = 0;
        for (int i = 0; i < n_files; i++) {
            snprintf(dest, sizeof dest, "%s/%s", dir, files[i].path);
            snprintf(part, sizeof part, "%s.part", dest);
            long long have = file_size(part);
            const char *state = file_size(dest) == files[i].size ? "present"
                                : have > 0 && have <= files[i].size ? "resume"
                                                                     : "fetch";
            if (strcmp(state, "present")) total += files[i].size - (have > 0 && have <= files[i].size ? have : 0);
            printf("%-8s %14lld  %s\n", state, files[i].size, files[i].path);
        }
        printf("%lld bytes to fetch into %s from %s/%s\n", total, dir, endpoint, repo);
        rc = 0;
        goto out;
    }
    for (int i = 0; i < n_files; i++) {
        snprintf(dest, sizeof dest, "%s/%s", dir, files[i].path);
        snprintf(part, sizeof part, "%s.part", dest);
        if (strchr(files[i].path, '/')) {
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/voice_embedding", dir);
            if (mkdir_p(sub)) { fprintf(stderr, "voxtts: cannot create '%s'\n", sub); goto out; }
        }
        if (file_size(dest) == files[i].size) {
            fprintf(stderr, "voxtts: %s: already complete\n", files[i].path);
            continue;
        }
        long long have = file_size(part);
        if (have > files[i].size) unlink(part); /* longer than the real file: start over */
        fprintf(stderr, "voxtts: fetching %s (%lld bytes%s)\n", files[i].path, files[i].size,
                have > 0 && have <= files[i].size ? ", resuming" : "");
        snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", endpoint, repo, rev, files[i].path);
        char *args[32];
        int k = 0;
        args[k++] = "curl"; args[k++] = "-fL"; args[k++] = quiet_curl ? "-sS" : "-#";
        args[k++] = "-w"; args[k++] = "%{http_code}";
        args[k++] = "--connect-timeout"; args[k++] = connect_arg;
        args[k++] = "--speed-limit"; args[k++] = "1024"; args[k++] = "--speed-time"; args[k++] = stall_arg;
        args[k++] = "-C"; args[k++] = "-";
        if (header_file[0]) { args[k++] = "-H"; args[k++] = hdr_arg; }
        args[k++] = "-o"; args[k++] = part; args[k++] = url; args[k] = NULL;
        curl_result r = {0, 200};
        if (file_size(part) != files[i].size) r = run_curl_retrying(args, (int)tries);
        if (r.exit_code != 0) {
            char what[600];
            snprintf(what, sizeof what, "download of %s failed", files[i].path);
            explain(r, what, endpoint, token && *token);
            if (file_size(part) == 0) unlink(part); /* nothing to resume */
            goto out;
        }
        long long got = file_size(part);
        if (got != files[i].size) {
            fprintf(stderr, "voxtts: %s: got %lld bytes, expected %lld; removed, run again\n",
                    files[i].path, got, files[i].size);
            unlink(part);
            goto out;
        }
        if (rename(part, dest)) {
            fprintf(stderr, "voxtts: cannot rename %s: %s\n", part, strerror(errno));
            goto out;
        }
    }
    fprintf(stderr, "voxtts: model ready in %s (%d files). The weights are licensed CC BY-NC 4.0.\n", dir,
            n_files);
    rc = 0;
out:
    if (header_file[0]) unlink(header_file);
    unlink(listing);
    for (int i = 0; i < n_files; i++) free(files[i].path);
    free(files);
    if (!dir_existed) { /* remove what we created if nothing worth keeping is in it */
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/voice_embedding", dir);
        rmdir(sub); /* only succeeds when empty */
        if (rmdir(dir) == 0 && rc != 0) fprintf(stderr, "voxtts: removed the empty directory %s\n", dir);
    }
    return rc;
}
