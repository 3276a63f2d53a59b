/* test_atomic_file.c — what every writer does with its output path
 * (src/base/atomic_file.h): regular files replaced atomically keeping their
 * mode, links followed and kept, FIFOs and character devices written directly
 * and never replaced, directories refused, a failing device reported, an
 * aborted write leaving nothing, and vox_atomic_check's answers for missing or
 * unwritable directories. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "test.h"
#include "test_files.h"

static int write_all(const char *path, const char *text, vox_error *err) {
    vox_atomic_file af;
    int rc = vox_atomic_open(&af, path, err);
    if (rc) return rc;
    if (fputs(text, af.f) < 0) {
        vox_atomic_abort(&af);
        return -100;
    }
    return vox_atomic_commit(&af, path, err);
}

static int file_is(const char *path, const char *text) {
    size_t n = 0;
    unsigned char *b = read_bytes(path, &n);
    int ok = b && n == strlen(text) && memcmp(b, text, n) == 0;
    free(b);
    return ok;
}

static void test_regular(void) {
    char p[512];
    vox_error err = {0};
    tpath(p, "new.txt");
    CHECK(vox_atomic_check(p, &err) == VOX_OK, "check a new file: %s", err.msg);
    CHECK(write_all(p, "one", &err) == VOX_OK && file_is(p, "one"), "new file");
    struct stat st;
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0644, "new file is 0644");
    chmod(p, 0600);
    CHECK(write_all(p, "two!", &err) == VOX_OK && file_is(p, "two!"), "replaced");
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600, "replaced file keeps mode 0600 (%o)", st.st_mode & 0777);
    /* an aborted write leaves the old file and no temporary */
    int before = count_dir_entries();
    vox_atomic_file af;
    CHECK(vox_atomic_open(&af, p, &err) == VOX_OK, "open");
    fputs("garbage", af.f);
    CHECK(count_dir_entries() == before + 1, "a temporary exists while writing");
    vox_atomic_abort(&af);
    CHECK(count_dir_entries() == before && file_is(p, "two!"), "abort leaves the old file only");
    vox_atomic_abort(&af); /* twice is harmless */
}

static void test_links(void) {
    char p[512], l[512], l2[512], d[512];
    vox_error err = {0};
    tpath(p, "target.txt");
    tpath(l, "link.txt");
    write_bytes(p, "old", 3);
    CHECK(symlink("target.txt", l) == 0, "symlink");
    CHECK(write_all(l, "via link", &err) == VOX_OK, "write through link: %s", err.msg);
    struct stat st;
    CHECK(lstat(l, &st) == 0 && S_ISLNK(st.st_mode), "the link is still a link");
    CHECK(file_is(p, "via link"), "its target was replaced");
    /* a chain of links, and a dangling one that creates its target */
    tpath(l2, "link2.txt");
    CHECK(symlink(l, l2) == 0, "symlink chain");
    CHECK(write_all(l2, "chain", &err) == VOX_OK && file_is(p, "chain"), "chain followed");
    tpath(d, "dangling.txt");
    CHECK(symlink("created-by-link.txt", d) == 0, "dangling symlink");
    CHECK(write_all(d, "made", &err) == VOX_OK, "write through dangling link: %s", err.msg);
    char c[512];
    CHECK(file_is(tpath(c, "created-by-link.txt"), "made") && lstat(d, &st) == 0 && S_ISLNK(st.st_mode),
          "dangling link's target created, link kept");
    /* a loop is an error, not a hang */
    char a[512], b[512];
    tpath(a, "loop-a");
    tpath(b, "loop-b");
    CHECK(symlink("loop-b", a) == 0 && symlink("loop-a", b) == 0, "loop");
    CHECK(write_all(a, "x", &err) == VOX_E_IO && strstr(err.msg, "symbolic links"), "link loop: %s", err.msg);
}

typedef struct fifo_reader {
    const char *path;
    char buf[64];
    size_t n;
} fifo_reader;

static void *read_fifo(void *arg) {
    fifo_reader *r = arg;
    int fd = open(r->path, O_RDONLY);
    if (fd < 0) return NULL;
    ssize_t k;
    while ((k = read(fd, r->buf + r->n, sizeof r->buf - 1 - r->n)) > 0) r->n += (size_t)k;
    close(fd);
    return NULL;
}

static void test_special(void) {
    char p[512];
    vox_error err = {0};
    /* a FIFO is written into, not replaced */
    tpath(p, "pipe");
    CHECK(mkfifo(p, 0600) == 0, "mkfifo");
    fifo_reader r = {p, {0}, 0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, read_fifo, &r) == 0, "reader thread");
    CHECK(write_all(p, "through the pipe", &err) == VOX_OK, "write to a FIFO: %s", err.msg);
    pthread_join(th, NULL);
    struct stat st;
    CHECK(r.n == 16 && memcmp(r.buf, "through the pipe", 16) == 0, "the reader got the bytes");
    CHECK(lstat(p, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is still a FIFO");
    /* /dev/null: a character device, written directly, stays a device */
    CHECK(vox_atomic_check("/dev/null", &err) == VOX_OK, "check /dev/null: %s", err.msg);
    CHECK(write_all("/dev/null", "nothing", &err) == VOX_OK, "write /dev/null: %s", err.msg);
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode), "/dev/null is still a device");
    /* /dev/full: the write error is reported, the device is left alone */
    if (stat("/dev/full", &st) == 0) {
        CHECK(write_all("/dev/full", "no room", &err) == VOX_E_IO && strstr(err.msg, "/dev/full"),
              "write to /dev/full fails: %s", err.msg);
        CHECK(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode), "/dev/full is still a device");
    } else {
        CHECK(0, "/dev/full is missing on this machine");
    }
    /* a directory is refused by both */
    CHECK(vox_atomic_check(g_dir, &err) == VOX_E_IO && strstr(err.msg, "directory"), "check dir: %s", err.msg);
    CHECK(write_all(g_dir, "x", &err) == VOX_E_IO && strstr(err.msg, "directory"), "open dir: %s", err.msg);
}

static void test_check(void) {
    char p[512];
    vox_error err = {0};
    CHECK(vox_atomic_check(tpath(p, "nodir/x.wav"), &err) == VOX_E_IO && strstr(err.msg, "nodir"),
          "missing directory: %s", err.msg);
    CHECK(vox_atomic_check("", &err) == VOX_E_ARG, "empty path");
    write_bytes(tpath(p, "plain"), "x", 1);
    CHECK(vox_atomic_check(tpath(p, "plain/x.wav"), &err) == VOX_E_IO, "a file as directory: %s", err.msg);
    if (geteuid() != 0) { /* root writes anywhere: only meaningful for others */
        char ro[512];
        tpath(ro, "readonly");
        mkdir(ro, 0500);
        CHECK(vox_atomic_check(tpath(p, "readonly/x.wav"), &err) == VOX_E_IO, "unwritable dir: %s", err.msg);
    }
}

int main(void) {
    make_dir("atomic");
    test_regular();
    test_links();
    test_special();
    test_check();
    rm_dir();
    TEST_MAIN_END();
}
