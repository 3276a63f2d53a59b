/* quantize.c — `voxtts quantize IN OUT.gguf --type TYPE`: a thin client of
 * voxtts_quantize (src/convert/quantize.c), which writes a model as one GGUF
 * file with per-component weight types.  This file parses the arguments, prints
 * the plan, the progress (on a terminal) and the summary.  Exit status 0 on
 * success, 1 on a failure, 2 on a usage error. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static void quantize_usage(FILE *f) {
    fprintf(f,
        "usage: voxtts quantize IN OUT.gguf --type TYPE [-t N] [-q] [--dry-run]\n"
        "\n"
        "Write the model IN (an official model directory or a voxtts GGUF) as one GGUF\n"
        "file OUT with params.json, tekken.json and the preset voices included.\n"
        "\n"
        "  --type TYPE   f32, f16, bf16, q8_0, q4_k for every component, 'best'\n"
        "                (%s),\n"
        "                or a list such as backbone=q4_k,acoustic=q8_0 (unnamed components\n"
        "                keep their stored type).  Components:\n"
        "                  backbone    LLM layer matrices (wq wk wv wo w1 w2 w3)\n"
        "                  acoustic    flow-matching transformer layers and projections\n"
        "                  heads       semantic and acoustic codebook output heads\n"
        "                  codec       codec decoder transformer matrices\n"
        "                  embeddings  token and audio-code embedding tables\n"
        "                Norms, scales, convolutions and the semantic codebook are kept as\n"
        "                stored; q4_k needs rows that are a multiple of 256 values and\n"
        "                falls back to q8_0 (multiple of 32), then f16.\n"
        "  -t, --threads N   worker threads (default: all cores)\n"
        "  -q, --quiet       no progress or summary\n"
        "      --dry-run     print the summary without writing anything\n",
        VOXTTS_TYPE_MIX_BEST);
}

typedef struct quantize_ui {
    const char *in_path, *out_path;
    int dry, quiet;
    int progress;  /* print progress on stderr */
    int last_pct;
} quantize_ui;

static void print_summary(const voxtts_quantize_report *r, FILE *f) {
    fprintf(f, "%-11s %-5s %8s %16s %16s\n", "component", "type", "tensors", "bytes", "input bytes");
    for (int i = 0; i < r->n_rows; i++) {
        const voxtts_quantize_row *row = &r->rows[i];
        fprintf(f, "%-11s %-5s %8lld %16llu %16llu\n", row->component, row->type, (long long)row->tensors,
                (unsigned long long)row->bytes, (unsigned long long)row->input_bytes);
    }
    fprintf(f, "%-11s %-5s %8lld %16llu %16llu  (%.3f GB from %.3f GB)\n", "total", "",
            (long long)r->tensors, (unsigned long long)r->bytes, (unsigned long long)r->input_bytes,
            r->bytes / 1e9, r->input_bytes / 1e9);
}

static void on_plan(const voxtts_quantize_report *r, void *user) {
    const quantize_ui *ui = user;
    if (ui->quiet) return;
    printf("voxtts quantize: %s -> %s%s\n  type mix: %s\n  %d preset voice%s included", ui->in_path,
           ui->out_path, ui->dry ? " (dry run: nothing written)" : "", r->type_mix, r->n_voices,
           r->n_voices == 1 ? "" : "s");
    if (r->n_voices_missing)
        printf(", %d not found (read from beside the file at run time)", r->n_voices_missing);
    printf("; tokenizer %s\n", r->has_tokenizer ? "included" : "not found (tekken.json must sit beside the file)");
    fflush(stdout);
}

static int on_progress(uint64_t done, uint64_t total, void *user) {
    quantize_ui *ui = user;
    if (ui->progress && total) {
        int pct = (int)(done * 100 / total);
        if (pct != ui->last_pct) {
            ui->last_pct = pct;
            fprintf(stderr, "\rvoxtts quantize: %3d%% (%.2f of %.2f GB)", pct, done / 1e9, total / 1e9);
            fflush(stderr);
        }
    }
    return 0;
}

enum { Q_TYPE = 3000, Q_DRY };

int cli_quantize_main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"type", required_argument, 0, Q_TYPE}, {"threads", required_argument, 0, 't'},
        {"quiet", no_argument, 0, 'q'},         {"dry-run", no_argument, 0, Q_DRY},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    const char *type = NULL;
    long threads = 0;
    int quiet = 0, dry = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case Q_TYPE: type = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 0, 1024, &threads)) return 2; break;
        case 'q': quiet = 1; break;
        case Q_DRY: dry = 1; break;
        case 'h': quantize_usage(stdout); return 0;
        default: fprintf(stderr, "Try 'voxtts quantize --help'.\n"); return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "voxtts quantize: expected IN and OUT.gguf (got %d arguments)\n", argc - optind);
        fprintf(stderr, "Try 'voxtts quantize --help'.\n");
        return 2;
    }
    const char *in_path = argv[optind], *out_path = argv[optind + 1];
    if (!type) {
        fprintf(stderr, "voxtts quantize: missing --type (f32, f16, bf16, q8_0, q4_k, best or a "
                        "component list)\n");
        return 2;
    }
    quantize_ui ui = {in_path, out_path, dry, quiet, !quiet && isatty(2), -1};
    voxtts_quantize_params qp;
    voxtts_quantize_params_default(&qp);
    qp.input = in_path;
    qp.output = out_path;
    qp.type = type;
    qp.n_threads = (int)threads;
    qp.dry_run = dry;
    qp.on_plan = on_plan;
    qp.progress = on_progress;
    qp.user = &ui;
    voxtts_quantize_report rep;
    voxtts_error err = {0};
    int rc = voxtts_quantize(&qp, &rep, &err);
    if (ui.progress && ui.last_pct >= 0) fputc('\n', stderr);
    if (rc) {
        fprintf(stderr, "voxtts quantize: %s\n", err.msg);
        return rc == VOXTTS_E_ARG ? 2 : 1; /* a bad type mix or output path: usage */
    }
    if (!quiet) {
        print_summary(&rep, stdout);
        if (!dry)
            printf("wrote %s: %llu bytes (%.3f GB) in %.1f s with %d thread%s\n", out_path,
                   (unsigned long long)rep.file_bytes, rep.file_bytes / 1e9, rep.seconds, rep.n_threads,
                   rep.n_threads == 1 ? "" : "s");
    }
    return 0;
}
