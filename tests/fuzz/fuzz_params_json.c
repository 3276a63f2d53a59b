/* fuzz_params_json.c — params.json (src/voxtral/config.c): JSON syntax, every
 * key's type and range, the codec's per-stage lists, the voice table. */
#include "fuzz.h"
#include "voxtral/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vox_error err;
    vox_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (vox_config_parse((const char *)data, size, "params.json", &cfg, &err) == VOX_OK) {
        /* derived sizes must be computable for anything accepted */
        (void)vox_config_audio_table_rows(&cfg);
        (void)vox_config_semantic_head_rows(&cfg);
        for (int i = 0; i < cfg.n_voices; i++) (void)fuzz_touch(cfg.voice_names[i], strlen(cfg.voice_names[i]));
        vox_config_free(&cfg);
    }
    return 0;
}
