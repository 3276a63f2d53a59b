/* st_edit.c — make deliberately broken copies of a safetensors file, for tests.
 *
 *   st_edit IN OUT drop NAME          remove tensor NAME from the header
 *   st_edit IN OUT dtype NAME DTYPE   relabel NAME's dtype (e.g. I16: same size, unsupported)
 *   st_edit IN OUT transpose NAME     swap the two dims of a 2-D tensor (same bytes, wrong shape)
 *   st_edit IN OUT offset NAME        move NAME's data_offsets past the end of the file
 *
 * The data section is copied unchanged; only the JSON header is rewritten.  The
 * error tests use it to check that the loader names the file and the tensor. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(const char *msg) {
    fprintf(stderr, "st_edit: %s\n", msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 5) return die("usage: st_edit IN OUT drop|dtype|transpose|offset NAME [ARG]");
    FILE *f = fopen(argv[1], "rb");
    if (!f) return die("cannot open input");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) return die("cannot read input");
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen + 8 > (uint64_t)size) return die("bad header length");
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!root) return die("bad header JSON");
    const char *op = argv[3], *name = argv[4];
    cJSON *t = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!t) return die("no such tensor");
    if (!strcmp(op, "drop")) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, name);
    } else if (!strcmp(op, "dtype") && argc > 5) {
        cJSON_ReplaceItemInObjectCaseSensitive(t, "dtype", cJSON_CreateString(argv[5]));
    } else if (!strcmp(op, "transpose")) {
        cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
        if (cJSON_GetArraySize(shape) != 2) return die("not a 2-D tensor");
        double a = cJSON_GetArrayItem(shape, 0)->valuedouble, b = cJSON_GetArrayItem(shape, 1)->valuedouble;
        if (a == b) return die("square tensor: transpose changes nothing");
        cJSON_ReplaceItemInArray(shape, 0, cJSON_CreateNumber(b));
        cJSON_ReplaceItemInArray(shape, 1, cJSON_CreateNumber(a));
    } else if (!strcmp(op, "offset")) {
        cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        double len = cJSON_GetArrayItem(off, 1)->valuedouble - cJSON_GetArrayItem(off, 0)->valuedouble;
        double past = (double)size; /* beyond the data section, whatever its start */
        cJSON_ReplaceItemInArray(off, 0, cJSON_CreateNumber(past));
        cJSON_ReplaceItemInArray(off, 1, cJSON_CreateNumber(past + len));
    } else {
        return die("unknown operation");
    }
    char *json = cJSON_PrintUnformatted(root);
    size_t jl = strlen(json), padded = (jl + 7) & ~(size_t)7;
    FILE *o = fopen(argv[2], "wb");
    if (!o) return die("cannot open output");
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(lenb, 1, 8, o);
    fwrite(json, 1, jl, o);
    for (size_t i = jl; i < padded; i++) fputc(' ', o);
    fwrite(buf + 8 + hlen, 1, (size_t)size - 8 - hlen, o);
    if (fclose(o)) return die("cannot write output");
    free(json);
    cJSON_Delete(root);
    free(buf);
    return 0;
}
