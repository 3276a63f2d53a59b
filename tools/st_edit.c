/* st_edit.c — make deliberately broken copies of a safetensors file, for tests.
 *
 *   st_edit IN OUT drop NAME          remove tensor NAME from the header
 *   st_edit IN OUT dtype NAME DTYPE   relabel NAME's dtype (e.g. I16: same size, unsupported)
 *   st_edit IN OUT transpose NAME     swap the two dims of a 2-D tensor (same bytes, wrong shape)
 *   st_edit IN OUT offset NAME        move NAME's data_offsets past the end of the file
 *   st_edit IN OUT merge OTHER        add every tensor of the safetensors file OTHER (e.g. the
 *                                     codec encoder's, to make a checkpoint that holds them)
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

/* The whole file and its parsed header (hlen: the header's length). */
static unsigned char *read_st(const char *path, long *size, uint64_t *hlen, cJSON **root) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = *size >= 8 ? malloc((size_t)*size) : NULL;
    if (!buf || fread(buf, 1, (size_t)*size, f) != (size_t)*size) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    *hlen = 0;
    for (int i = 7; i >= 0; i--) *hlen = (*hlen << 8) | buf[i];
    if (*hlen + 8 > (uint64_t)*size || !(*root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)*hlen))) {
        free(buf);
        return NULL;
    }
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 5) return die("usage: st_edit IN OUT drop|dtype|transpose|offset|merge NAME [ARG]");
    long size = 0, size2 = 0;
    uint64_t hlen = 0, hlen2 = 0;
    cJSON *root = NULL, *root2 = NULL;
    unsigned char *buf = read_st(argv[1], &size, &hlen, &root), *buf2 = NULL;
    if (!buf) return die("cannot read input (or bad header)");
    const char *op = argv[3], *name = argv[4];
    cJSON *t = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!t && strcmp(op, "merge")) return die("no such tensor");
    if (!strcmp(op, "merge")) {
        /* OTHER's tensors after IN's data: their offsets shift by IN's data size */
        if (!(buf2 = read_st(name, &size2, &hlen2, &root2))) return die("cannot read OTHER (or bad header)");
        const double shift = (double)((uint64_t)size - 8 - hlen);
        cJSON *e;
        cJSON_ArrayForEach(e, root2) {
            if (!strcmp(e->string, "__metadata__")) continue;
            if (cJSON_GetObjectItemCaseSensitive(root, e->string)) return die("duplicate tensor name");
            cJSON *c = cJSON_Duplicate(e, 1);
            cJSON *off = cJSON_GetObjectItemCaseSensitive(c, "data_offsets");
            if (!c || cJSON_GetArraySize(off) != 2) return die("bad data_offsets in OTHER");
            for (int i = 0; i < 2; i++)
                cJSON_ReplaceItemInArray(off, i, cJSON_CreateNumber(cJSON_GetArrayItem(off, i)->valuedouble + shift));
            cJSON_AddItemToObject(root, e->string, c);
        }
    } else if (!strcmp(op, "drop")) {
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
    if (buf2) fwrite(buf2 + 8 + hlen2, 1, (size_t)size2 - 8 - hlen2, o);
    if (fclose(o)) return die("cannot write output");
    free(json);
    cJSON_Delete(root);
    cJSON_Delete(root2);
    free(buf);
    free(buf2);
    return 0;
}
