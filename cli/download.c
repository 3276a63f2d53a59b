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

/* Run curl with the given arguments; returns its exit status (or -1). */
static int run_curl(char *const *args) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execvp("curl", args);
        fprintf(stderr, "voxtts: cannot run curl: %s (install it: apt-get install curl)\n",
                strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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
            "usage: voxtts download [DIR] [--repo OWNER/NAME] [--revision REV]\n"
            "Fetches params.json, tekken.json, consolidated.safetensors (8 GB) and the preset voices\n"
            "into DIR (default: $VOXTTS_MODEL or %s), resuming interrupted downloads.\n"
            "Environment: HF_TOKEN (sent as a bearer token), HF_ENDPOINT (default https://huggingface.co).\n"
            "The weights are licensed CC BY-NC 4.0.\n",
            VOX_DEFAULT_MODEL_DIR);
}

int cli_download_main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"repo", required_argument, 0, 'r'},
        {"revision", required_argument, 0, 'R'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *repo = DEFAULT_REPO, *rev = "main";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': repo = optarg; break;
        case 'R': rev = optarg; break;
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

    if (mkdir_p(dir)) {
        fprintf(stderr, "voxtts: cannot create directory '%s': %s\n", dir, strerror(errno));
        return 1;
    }
    int rc = 1, n_files = 0;
    remote_file *files = NULL;
    char header_file[4096] = "", listing[4096], url[8192], dest[4096], part[4200];
    snprintf(listing, sizeof listing, "%s/.voxtts-listing.json", dir);

    /* The token travels in a 0600 header file so it never shows in `ps`. */
    if (token && *token) {
        snprintf(header_file, sizeof header_file, "%s/.voxtts-auth-XXXXXX", dir);
        int fd = mkstemp(header_file);
        if (fd < 0) {
            fprintf(stderr, "voxtts: cannot create a private header file in '%s'\n", dir);
            return 1;
        }
        FILE *hf = fdopen(fd, "w");
        if (!hf) { close(fd); unlink(header_file); return 1; }
        fprintf(hf, "Authorization: Bearer %s\n", token);
        fclose(hf);
    }
    char hdr_arg[4200];
    snprintf(hdr_arg, sizeof hdr_arg, "@%s", header_file);

    snprintf(url, sizeof url, "%s/api/models/%s/tree/%s?recursive=true", endpoint, repo, rev);
    {
        char *args[16];
        int k = 0;
        args[k++] = "curl"; args[k++] = "-fsSL"; args[k++] = "--retry"; args[k++] = "3";
        if (header_file[0]) { args[k++] = "-H"; args[k++] = hdr_arg; }
        args[k++] = "-o"; args[k++] = listing; args[k++] = url; args[k] = NULL;
        int st = run_curl(args);
        if (st != 0) {
            fprintf(stderr, "voxtts: cannot list %s at %s (curl exit %d)%s\n", repo, endpoint, st,
                    token && *token ? "" : "; if the repository is gated, set HF_TOKEN");
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
        char *args[20];
        int k = 0;
        args[k++] = "curl"; args[k++] = "-fL"; args[k++] = quiet_curl ? "-sS" : "-#";
        args[k++] = "--retry"; args[k++] = "5"; args[k++] = "-C"; args[k++] = "-";
        if (header_file[0]) { args[k++] = "-H"; args[k++] = hdr_arg; }
        args[k++] = "-o"; args[k++] = part; args[k++] = url; args[k] = NULL;
        int st = file_size(part) == files[i].size ? 0 : run_curl(args);
        if (st != 0) {
            fprintf(stderr, "voxtts: download of %s failed (curl exit %d); run the command again to resume\n",
                    files[i].path, st);
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
    return rc;
}
