/* audio_loss.h — waveform losses with their gradients, for voice cloning by
 * inversion through the codec decoder (docs/MODEL.md §7, "Inversion").
 *
 * A loss object holds a fixed target y[n] and evaluates, for a candidate x[n],
 *   stft  = (1/R) sum_r [ ||Y_r| - |X_r||_F / ||Y_r||_F              (spectral convergence)
 *                       + mean |log|X_r| - log|Y_r||  ]              (log-magnitude L1)
 *           over the resolutions r (FFT sizes 512, 1024, 2048 by default, hop
 *           N/4, periodic Hann window of N samples, frames centred on
 *           multiples of the hop with zeros beyond both ends);
 *   mel   = mean |log(M|X| + eps) - log(M|Y| + eps)| with M the triangular
 *           HTK-mel filter bank (80 bands from 0 Hz to the Nyquist frequency by
 *           default) on the spectrum of FFT size mel_fft (one of the resolutions
 *           or an extra one with stft weight 0);
 *   wave  = mean |x - y| / mean |y|;
 *   total = w_stft·stft + w_mel·mel + w_wave·wave (defaults 1, 1, 5),
 * and its gradient dtotal/dx in double precision.  |X| = sqrt(re^2 + im^2 +
 * mag_eps) keeps everything differentiable.  The L1 terms take sign(0) = 0.
 *
 * Evaluation is threaded over frames (model pool, or NULL for the caller only)
 * and deterministic: every frame's sums and gradient land in their own slot,
 * then are reduced and overlap-added in a fixed order, so the result does not
 * depend on the thread count. */
#ifndef VOX_VOXTRAL_AUDIO_LOSS_H
#define VOX_VOXTRAL_AUDIO_LOSS_H

#include <stddef.h>

#include "base/error.h"
#include "base/threadpool.h"

#define VOX_LOSS_MAX_RES 8

typedef struct vox_audio_loss_params {
    int n_res;                    /* STFT resolutions (<= VOX_LOSS_MAX_RES) */
    int fft[VOX_LOSS_MAX_RES];    /* FFT sizes: powers of two >= 8 */
    int mel_fft;                  /* FFT size of the mel spectrum (power of two) */
    int n_mels;                   /* mel bands (0: no mel term) */
    double w_stft, w_mel, w_wave; /* term weights */
    double mag_eps;               /* |X| = sqrt(power + mag_eps) */
    double mel_eps;               /* log(mel + mel_eps) */
} vox_audio_loss_params;

/* The values of the terms (unweighted) and the weighted total. */
typedef struct vox_audio_loss_terms {
    double sc, logmag; /* averaged over the resolutions */
    double stft, mel, wave, total;
} vox_audio_loss_terms;

typedef struct vox_audio_loss vox_audio_loss;

void vox_audio_loss_params_default(vox_audio_loss_params *p);
/* A loss against target[n] (copied) at sample_rate Hz. */
int vox_audio_loss_new(const float *target, size_t n, int sample_rate,
                       const vox_audio_loss_params *p, vox_pool *pool, vox_audio_loss **out,
                       vox_error *err);
void vox_audio_loss_free(vox_audio_loss *L);
/* Terms at x[n]; grad[n] (optional, overwritten) = dtotal/dx. */
int vox_audio_loss_eval(vox_audio_loss *L, const double *x, double *grad,
                        vox_audio_loss_terms *terms, vox_error *err);
/* Same for a float signal (converted to double); grad optional, float. */
int vox_audio_loss_eval_f(vox_audio_loss *L, const float *x, float *grad,
                          vox_audio_loss_terms *terms, vox_error *err);

/* Log-mel L1 distance between two signals of n samples with the default mel
 * settings (the mel term above, alone). */
int vox_logmel_distance(const float *a, const float *b, size_t n, int sample_rate, vox_pool *pool,
                        double *dist, vox_error *err);

#endif
