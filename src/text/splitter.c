/* splitter.c — sentence splitting and chunk packing for long text (splitter.h).
 *
 * The text is validated as UTF-8 first; after that every scan decodes code points
 * with the knowledge that the bytes are well formed.  Paragraphs are written into
 * one working buffer (separated by '\n'), with the positions where a list item
 * or a heading forces a sentence to end.  Sentences are found in that buffer by
 * the rules of splitter.h; chunks are byte ranges of it, finished (terminal
 * punctuation) into their own strings and measured with the caller's token
 * counter.
 *
 * Normalization (normalize = 1) is the part of docs/MODEL.md §2.5 that is not
 * specific to English: drops invisible characters (ZWSP, soft hyphen, BOM, word
 * joiner, direction marks; ZWJ/ZWNJ stay, they shape Hindi, Arabic and emoji),
 * decodes HTML entities (&amp; &lt; &gt; &quot; &apos; &#39; &nbsp; &#N; &#xH;) and
 * removes HTML tags, flattens Markdown (code fences become "Code example
 * omitted.", headings and list markers go and end a sentence, [text](url) becomes
 * text, ** __ ` go), replaces URLs (http://, https://, www.) by "link", turns
 * "..." into "…" and "--" / a spaced "-" into "—", collapses runs of ! and ?
 * ("?!?!" -> "?!"), and collapses every run of spaces, tabs and Unicode spaces
 * into one space.  Numbers and currency are left to the model. */
#include "text/splitter.h"

#include "base/strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Length of the well-formed sequence at s[0..n), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

int vox_utf8_check(const char *s, size_t n, size_t *bad_offset, vox_error *err) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = utf8_len(u + i, n - i, &cp);
        if (l == 0 || cp == 0) {
            if (bad_offset) *bad_offset = i;
            if (l == 0)
                return vox_fail(err, VOX_E_ARG, "text is not valid UTF-8: bad byte 0x%02X at byte offset %zu",
                                u[i], i);
            return vox_fail(err, VOX_E_ARG, "text contains a NUL byte at byte offset %zu", i);
        }
        i += l;
    }
    return VOX_OK;
}

/* Decode at s[i] (valid UTF-8 known); returns the length. */
static size_t dec(const char *s, size_t n, size_t i, uint32_t *cp) {
    size_t l = utf8_len((const unsigned char *)s + i, n - i, cp);
    if (l == 0) { /* cannot happen after vox_utf8_check; be safe */
        *cp = (unsigned char)s[i];
        l = 1;
    }
    return l;
}

/* Start of the code point before position i (i > 0). */
static size_t prev_cp(const char *s, size_t i) {
    do i--;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80);
    return i;
}

static size_t enc(uint32_t cp, char *o) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- character classes ------------------------------------------------------ */

static int is_space(uint32_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
           c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Invisible characters normalization drops (ZWJ 200D and ZWNJ 200C stay). */
static int is_invisible(uint32_t c) {
    return c == 0x200B || c == 0xAD || c == 0xFEFF || c == 0x2060 || c == 0x200E || c == 0x200F ||
           (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) || c == 0x180E;
}

static int is_cjk_term(uint32_t c) { return c == 0x3002 || c == 0xFF01 || c == 0xFF1F; }

/* Ends a sentence. */
static int is_terminator(uint32_t c) {
    return c == '.' || c == '!' || c == '?' || c == 0x2026 /* … */ || c == 0x0964 /* । */ ||
           c == 0x0965 /* ॥ */ || c == 0x061F /* ؟ */ || c == 0x06D4 /* ۔ */ ||
           c == 0x203C || c == 0x2047 || c == 0x2048 || c == 0x2049 || is_cjk_term(c);
}

/* Closing quotes and brackets that belong to the sentence before them. */
static int is_closer(uint32_t c) {
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}' || c == 0x201D /* ” */ ||
           c == 0x2019 /* ’ */ || c == 0xBB /* » */ || c == 0x203A /* › */ || c == 0x300D ||
           c == 0x300F || c == 0xFF09 || c == 0x201C /* “ closes in German */ || c == 0x2018;
}

/* Opening quotes and brackets (skipped when looking at the next word). */
static int is_opener(uint32_t c) {
    return c == '"' || c == '\'' || c == '(' || c == '[' || c == '{' || c == 0x201C ||
           c == 0x2018 || c == 0x201E /* „ */ || c == 0x201A || c == 0xAB /* « */ ||
           c == 0x2039 || c == 0xBF /* ¿ */ || c == 0xA1 /* ¡ */ || c == 0x300C ||
           c == 0x300E || c == 0xFF08;
}

/* Clause punctuation a long sentence may be cut after. */
static int is_clause(uint32_t c) {
    return c == ',' || c == ';' || c == ':' || c == 0x060C /* ، */ || c == 0x061B /* ؛ */ ||
           c == 0x3001 || c == 0xFF0C || c == 0xFF1B || c == 0xFF1A;
}

static int is_dash(uint32_t c) { return c == '-' || c == 0x2013 || c == 0x2014 || c == 0x2015; }

static int is_lower(uint32_t c) {
    if (c < 0x80) return c >= 'a' && c <= 'z';
    if (c >= 0xDF && c <= 0xFF) return c != 0xF7;
    if (c >= 0x100 && c <= 0x137) return (c & 1) == 1;
    if (c >= 0x139 && c <= 0x148) return (c & 1) == 0;
    if (c >= 0x149 && c <= 0x177) return c == 0x149 || (c & 1) == 1;
    if (c == 0x17A || c == 0x17C || c == 0x17E || c == 0x17F) return 1;
    if (c >= 0x3AC && c <= 0x3CE) return 1;
    if (c >= 0x430 && c <= 0x45F) return 1;
    return 0;
}

static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }

/* Punctuation (not speakable on its own). Letters, digits, symbols, emoji are. */
static int is_punct(uint32_t c) {
    if (c < 0x80)
        return (c >= '!' && c <= '/' && c != '#' && c != '$' && c != '%' && c != '&' && c != '+') ||
               c == ':' || c == ';' || c == '?' || c == '@' || c == '[' || c == '\\' || c == ']' ||
               c == '_' || c == '{' || c == '}' || c == '<' || c == '>' || c == '=' ||
               c == '^' || c == '`' || c == '|' || c == '~';
    return c == 0xA1 || c == 0xA7 || c == 0xAB || c == 0xB6 || c == 0xB7 || c == 0xBB ||
           c == 0xBF || (c >= 0x2010 && c <= 0x2027) || (c >= 0x2030 && c <= 0x205E) ||
           (c >= 0x3001 && c <= 0x3003) || (c >= 0x3008 && c <= 0x3011) || c == 0x060C ||
           c == 0x061B || c == 0x061F || c == 0x06D4 || c == 0x0964 || c == 0x0965 ||
           (c >= 0xFF01 && c <= 0xFF0F && c != 0xFF04 && c != 0xFF05) || c == 0xFF1A ||
           c == 0xFF1B || c == 0xFF1F;
}

/* Letter-like: not space, punctuation, digit, nor an ASCII symbol. */
static int is_letter(uint32_t c) {
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return !is_space(c) && !is_punct(c) && c >= 0xC0 && c != 0xD7 && c != 0xF7 &&
           !(c >= 0x2100 && c <= 0x2BFF) && !(c >= 0x1F000);
}

/* Marks that attach to the code point before them (never cut before one). */
static int is_combining(uint32_t c) {
    return (c >= 0x300 && c <= 0x36F) || (c >= 0x483 && c <= 0x489) ||
           (c >= 0x591 && c <= 0x5C7) || (c >= 0x610 && c <= 0x61A) ||
           (c >= 0x64B && c <= 0x65F) || c == 0x670 || (c >= 0x6D6 && c <= 0x6ED) ||
           (c >= 0x900 && c <= 0x903) || (c >= 0x93A && c <= 0x94F) ||
           (c >= 0x951 && c <= 0x957) || c == 0x962 || c == 0x963 ||
           (c >= 0x1AB0 && c <= 0x1AFF) || (c >= 0x1DC0 && c <= 0x1DFF) || c == 0x200C ||
           c == 0x200D || (c >= 0x20D0 && c <= 0x20FF) || (c >= 0xFE00 && c <= 0xFE0F) ||
           (c >= 0xFE20 && c <= 0xFE2F) || (c >= 0x1F3FB && c <= 0x1F3FF) ||
           (c >= 0xE0020 && c <= 0xE007F) || (c >= 0xE0100 && c <= 0xE01EF);
}

static int is_devanagari(uint32_t c) { return c >= 0x900 && c <= 0x97F; }

/* ---- languages and their abbreviations --------------------------------------- */

static const char *LANG_NAMES[VOX_LANG_COUNT] = {"auto", "en", "fr", "es", "de", "it",
                                                 "pt", "nl", "ar", "hi"};

int vox_lang_parse(const char *name, vox_lang *out, vox_error *err) {
    *out = VOX_LANG_AUTO;
    if (!name || !*name) return VOX_OK;
    for (int i = 0; i < VOX_LANG_COUNT; i++) {
        const char *a = LANG_NAMES[i], *b = name;
        while (*a && (*b | 0x20) == *a) a++, b++;
        if (!*a && !*b) {
            *out = (vox_lang)i;
            return VOX_OK;
        }
    }
    return vox_fail(err, VOX_E_ARG,
                    "unknown language '%s' (expected auto, en, fr, es, de, it, pt, nl, ar or hi)",
                    name);
}

const char *vox_lang_name(vox_lang lang) {
    return lang >= 0 && lang < VOX_LANG_COUNT ? LANG_NAMES[lang] : "?";
}

#define LB(x) (1u << VOX_LANG_##x)
#define L_ALL 0xFFFFu

/* Words whose period never ends a sentence (num: only when a digit follows).
 * Matched exactly (case included), without the period.  Dotted forms (z.B,
 * p.ex, d.w.z, U.S) and single letters need no entry. */
typedef struct { const char *w; unsigned langs; int num; } abbrev;
static const abbrev ABBREVS[] = {
    /* titles, everywhere */
    {"Mr", L_ALL, 0}, {"Mrs", L_ALL, 0}, {"Ms", L_ALL, 0}, {"Dr", L_ALL, 0}, {"Prof", L_ALL, 0},
    {"St", L_ALL, 0}, {"vs", L_ALL, 0}, {"Jr", L_ALL, 0}, {"Sr", L_ALL, 0}, {"Mt", L_ALL, 0},
    /* English */
    {"Mx", LB(EN), 0}, {"Rev", LB(EN), 0}, {"Gen", LB(EN), 0}, {"Col", LB(EN), 0},
    {"Lt", LB(EN), 0}, {"Capt", LB(EN), 0}, {"Sgt", LB(EN), 0}, {"Gov", LB(EN), 0},
    {"Sen", LB(EN), 0}, {"Rep", LB(EN), 0}, {"Hon", LB(EN), 0}, {"Ft", LB(EN), 0},
    {"Ave", LB(EN), 0}, {"Blvd", LB(EN), 0}, {"Dept", LB(EN), 0}, {"Univ", LB(EN), 0},
    {"approx", LB(EN), 0}, {"al", LB(EN), 0}, {"cf", LB(EN) | LB(FR), 0},
    {"No", LB(EN), 1}, {"no", LB(EN), 1}, {"Nos", LB(EN), 1}, {"Fig", LB(EN), 1},
    {"fig", LB(EN), 1}, {"vol", L_ALL, 1}, {"Vol", L_ALL, 1}, {"pp", LB(EN), 1},
    {"ch", LB(EN), 1}, {"Ch", LB(EN), 1}, {"sec", LB(EN), 1}, {"Jan", LB(EN), 1},
    {"Feb", LB(EN), 1}, {"Mar", LB(EN), 1}, {"Apr", LB(EN), 1}, {"Jun", LB(EN), 1},
    {"Jul", LB(EN), 1}, {"Aug", LB(EN), 1}, {"Sep", LB(EN), 1}, {"Sept", LB(EN), 1},
    {"Oct", LB(EN), 1}, {"Nov", LB(EN), 1}, {"Dec", LB(EN), 1},
    /* French */
    {"Mme", LB(FR), 0}, {"Mmes", LB(FR), 0}, {"Mlle", LB(FR), 0}, {"Mlles", LB(FR), 0},
    {"MM", LB(FR), 0}, {"Me", LB(FR), 0}, {"Mgr", LB(FR), 0}, {"Pr", LB(FR), 0},
    {"Ste", LB(FR), 0}, {"env", LB(FR), 0}, {"av", LB(FR), 0}, {"apr", LB(FR), 0},
    {"c.-à-d", LB(FR), 0}, {"chap", LB(FR), 1}, {"art", L_ALL, 1}, {"Art", L_ALL, 1},
    /* Spanish */
    {"Sra", LB(ES) | LB(PT), 0}, {"Srta", LB(ES) | LB(PT), 0}, {"Sres", LB(ES), 0},
    {"Sras", LB(ES), 0}, {"Dra", LB(ES) | LB(PT), 0}, {"Dña", LB(ES), 0}, {"Ud", LB(ES), 0},
    {"Uds", LB(ES), 0}, {"Vd", LB(ES), 0}, {"Vds", LB(ES), 0}, {"Lic", LB(ES), 0},
    {"Ing", LB(ES) | LB(IT) | LB(DE), 0}, {"Arq", LB(ES) | LB(PT), 0}, {"Profa", LB(ES) | LB(PT), 0},
    {"Excmo", LB(ES), 0}, {"Excma", LB(ES), 0}, {"Sto", LB(ES), 0}, {"Sta", LB(ES), 0},
    {"Avda", LB(ES), 0}, {"aprox", LB(ES) | LB(PT), 0}, {"pág", LB(ES) | LB(PT), 1},
    {"págs", LB(ES) | LB(PT), 1}, {"núm", LB(ES), 1}, {"cap", LB(ES) | LB(IT) | LB(PT), 1},
    /* German */
    {"Hr", LB(DE), 0}, {"Hrn", LB(DE), 0}, {"Fr", LB(DE), 0}, {"Frl", LB(DE), 0},
    {"Dipl", LB(DE), 0}, {"Mag", LB(DE), 0}, {"bzw", LB(DE), 0}, {"vgl", LB(DE), 0},
    {"ca", LB(DE) | LB(IT) | LB(NL), 0}, {"evtl", LB(DE), 0}, {"ggf", LB(DE), 0},
    {"inkl", LB(DE), 0}, {"exkl", LB(DE), 0}, {"sog", LB(DE), 0}, {"bspw", LB(DE), 0},
    {"Str", LB(DE), 0}, {"Mio", LB(DE), 0}, {"Mrd", LB(DE), 0}, {"Tsd", LB(DE), 0},
    {"Hl", LB(DE), 0}, {"Nr", LB(DE), 1}, {"Abs", LB(DE), 1}, {"Bd", LB(DE), 1},
    {"Kap", LB(DE), 1}, {"geb", LB(DE), 1}, {"gest", LB(DE), 1},
    /* Italian */
    {"Sig", LB(IT), 0}, {"Sigg", LB(IT), 0}, {"Dott", LB(IT), 0}, {"Dott.ssa", LB(IT), 0},
    {"Prof.ssa", LB(IT), 0}, {"Avv", LB(IT), 0}, {"Arch", LB(IT), 0}, {"Geom", LB(IT), 0},
    {"Rag", LB(IT), 0}, {"On", LB(IT), 0}, {"Mons", LB(IT), 0}, {"Egr", LB(IT), 0},
    {"Gent", LB(IT), 0}, {"Spett", LB(IT), 0}, {"cfr", LB(IT), 0}, {"pag", LB(IT), 1},
    {"pagg", LB(IT), 1},
    /* Portuguese */
    {"Exmo", LB(PT), 0}, {"Exma", LB(PT), 0}, {"Ilmo", LB(PT), 0}, {"Ilma", LB(PT), 0},
    {"Eng", LB(PT), 0}, {"Av", LB(PT) | LB(ES), 0},
    /* Dutch */
    {"dhr", LB(NL), 0}, {"Dhr", LB(NL), 0}, {"mevr", LB(NL), 0}, {"Mevr", LB(NL), 0},
    {"mw", LB(NL), 0}, {"mr", LB(NL), 0}, {"dr", LB(NL), 0}, {"drs", LB(NL), 0},
    {"ir", LB(NL), 0}, {"ing", LB(NL), 0}, {"prof", LB(NL), 0}, {"bijv", LB(NL), 0},
    {"bv", LB(NL), 0}, {"jhr", LB(NL), 0}, {"resp", LB(NL), 0}, {"evt", LB(NL), 0},
    {"incl", LB(NL), 0}, {"excl", LB(NL), 0}, {"vnl", LB(NL), 0}, {"nr", LB(NL), 1},
    {"blz", LB(NL), 1},
    /* Arabic: د. (doctor), أ. (professor), ص. (page) */
    {"\xd8\xaf", LB(AR), 0}, {"\xd8\xa3", LB(AR), 0}, {"\xd8\xb5", LB(AR), 1},
    /* Hindi: डॉ. (Dr.), प्रो. (Prof.), मि. (Mr.), कु. (Miss) */
    {"\xe0\xa4\xa1\xe0\xa5\x89", LB(HI), 0},
    {"\xe0\xa4\xaa\xe0\xa5\x8d\xe0\xa4\xb0\xe0\xa5\x8b", LB(HI), 0},
    {"\xe0\xa4\xae\xe0\xa4\xbf", LB(HI), 0}, {"\xe0\xa4\x95\xe0\xa5\x81", LB(HI), 0},
};

/* German and Dutch ordinals ("am 3. Oktober", "op 3. mei" is rarer but harmless). */
static const char *ORD_MONTHS[] = {
    "januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august",
    "september", "oktober", "november", "dezember", "januari", "februari", "maart", "mei",
    "augustus", "december"};
static const char *ORD_BEFORE[] = {
    "am", "im", "vom", "zum", "zur", "bis", "ab", "seit", "der", "die", "das", "den", "dem",
    "des", "ein", "eine", "einem", "einen", "einer", "nach", "vor", "um", "beim", "jeden",
    "op", "de", "het", "van", "tot", "met", "per", "sinds", "vanaf", "voor", "na", "een"};

static int ascii_ieq(const char *a, size_t an, const char *b) {
    size_t bn = strlen(b);
    if (an != bn) return 0;
    for (size_t i = 0; i < an; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x |= 0x20;
        /* Ä Ö Ü (C3 84/96/9C) fold to ä ö ü (C3 A4/B6/BC) */
        if (i > 0 && (unsigned char)a[i - 1] == 0xC3 && x >= 0x80 && x <= 0x9E) x += 0x20;
        if (x != y) return 0;
    }
    return 1;
}

static int in_list(const char *w, size_t n, const char *const *list, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (ascii_ieq(w, n, list[i])) return 1;
    return 0;
}

/* Is w[0..n) (no final period) an abbreviation for lang?  digit_next: a digit follows. */
static int is_abbrev(const char *w, size_t n, vox_lang lang, int digit_next) {
    unsigned bit = lang == VOX_LANG_AUTO ? L_ALL : 1u << lang;
    for (size_t i = 0; i < sizeof ABBREVS / sizeof ABBREVS[0]; i++) {
        const abbrev *a = &ABBREVS[i];
        if (!(a->langs & bit) || strlen(a->w) != n || memcmp(a->w, w, n) != 0) continue;
        if (!a->num || digit_next) return 1;
    }
    return 0;
}

/* Letters in groups of 1-3 joined by single periods, at least two groups
 * ("e.g", "z.B", "U.S", "J.R.R", "p.ex", "EE.UU"). */
static int is_dotted(const char *w, size_t n) {
    int groups = 0, glen = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t l = dec(w, n, i, &c);
        if (c == '.') {
            if (glen == 0) return 0;
            groups++;
            glen = 0;
        } else if (is_letter(c)) {
            if (++glen > 3) return 0;
        } else {
            return 0;
        }
        i += l;
    }
    return glen > 0 && groups >= 1;
}

static int all_digits(const char *w, size_t n, int allow_dots) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(w[i] >= '0' && w[i] <= '9') && !(allow_dots && w[i] == '.' && i > 0)) return 0;
    return 1;
}

static int is_roman(const char *w, size_t n) {
    if (n == 0 || n > 5) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("IVXLCivxlc", w[i])) return 0;
    return 1;
}

/* ---- growable buffers ----------------------------------------------------------- */

typedef vox_strbuf sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) { vox_strbuf_put(b, s, n); }

static void sb_cp(sbuf *b, uint32_t cp) {
    char t[4];
    sb_put(b, t, enc(cp, t));
}

static int sb_last_is_space(const sbuf *b) { return b->len == 0 || b->p[b->len - 1] == ' ' || b->p[b->len - 1] == '\n'; }

typedef struct zvec { size_t *v; size_t n, cap; int oom; } zvec;

static void zv_push(zvec *z, size_t x) {
    if (z->oom) return;
    if (z->n == z->cap) {
        size_t cap = z->cap ? z->cap * 2 : 64;
        size_t *v = realloc(z->v, cap * sizeof *v);
        if (!v) {
            z->oom = 1;
            return;
        }
        z->v = v;
        z->cap = cap;
    }
    z->v[z->n++] = x;
}

/* ---- step 1-2: paragraphs, lines, normalization -------------------------------- */

typedef struct para_builder {
    sbuf buf;
    zvec para_start, para_end; /* paragraph byte ranges in buf */
    zvec forced;              /* positions where a sentence must start */
    int open;                 /* a paragraph is being written */
} para_builder;

static void pb_end_para(para_builder *pb) {
    if (!pb->open) return;
    while (pb->buf.len > 0 && pb->buf.p[pb->buf.len - 1] == ' ') pb->buf.len--;
    zv_push(&pb->para_end, pb->buf.len);
    sb_put(&pb->buf, "\n", 1);
    pb->open = 0;
}

/* Start a new line of the current paragraph (or a new paragraph). */
static void pb_begin_line(para_builder *pb, int force_boundary) {
    if (!pb->open) {
        zv_push(&pb->para_start, pb->buf.len);
        pb->open = 1;
    } else if (!sb_last_is_space(&pb->buf)) {
        sb_put(&pb->buf, " ", 1);
    }
    if (force_boundary) zv_push(&pb->forced, pb->buf.len);
}

/* Length of a list marker at s[0..n) ("- ", "* ", "+ ", "• ", "12. ", "3) ", "b) "),
 * including the spaces after it, or 0. */
static size_t list_marker(const char *s, size_t n) {
    size_t i = 0;
    if (n >= 2 && (s[0] == '-' || s[0] == '*' || s[0] == '+') && (s[1] == ' ' || s[1] == '\t'))
        i = 1;
    else if (n >= 4 && memcmp(s, "\xe2\x80\xa2", 3) == 0 && (s[3] == ' ' || s[3] == '\t'))
        i = 3;
    else {
        size_t d = 0;
        while (d < n && d < 4 && s[d] >= '0' && s[d] <= '9') d++;
        if (d == 0 && n >= 1 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
            d = 1; /* "b) " only with a parenthesis */
        if (d == 0 || d >= n) return 0;
        if (s[d] == ')' || (s[d] == '.' && s[0] >= '0' && s[0] <= '9')) i = d + 1;
        else return 0;
        if (i >= n || (s[i] != ' ' && s[i] != '\t')) return 0;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t')) i++;
    return i;
}

/* An HTML entity at s[0..n) starting with '&': its code point and length, or 0. */
static size_t html_entity(const char *s, size_t n, uint32_t *cp) {
    static const struct { const char *name; uint32_t cp; } named[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
        {"&nbsp;", ' '}, {"&ndash;", 0x2013}, {"&mdash;", 0x2014}, {"&hellip;", 0x2026},
        {"&laquo;", 0xAB}, {"&raquo;", 0xBB}, {"&rsquo;", 0x2019}, {"&lsquo;", 0x2018},
        {"&rdquo;", 0x201D}, {"&ldquo;", 0x201C}, {"&eacute;", 0xE9}, {"&euro;", 0x20AC}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        size_t l = strlen(named[i].name);
        if (l <= n && memcmp(s, named[i].name, l) == 0) {
            *cp = named[i].cp;
            return l;
        }
    }
    if (n >= 4 && s[1] == '#') {
        int hex = s[2] == 'x' || s[2] == 'X';
        size_t i = hex ? 3 : 2;
        uint32_t v = 0;
        size_t digits = 0;
        for (; i < n && digits < 7; i++, digits++) {
            char c = s[i];
            int d = c >= '0' && c <= '9' ? c - '0'
                    : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) break;
            v = v * (hex ? 16u : 10u) + (uint32_t)d;
        }
        if (digits == 0 || i >= n || s[i] != ';') return 0;
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
        *cp = v;
        return i + 1;
    }
    return 0;
}

static int starts_with(const char *s, size_t n, const char *p) {
    size_t l = strlen(p);
    return n >= l && memcmp(s, p, l) == 0;
}

/* Emit one line's text with the normalizations of the file comment. */
static void normalize_line(sbuf *b, const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t c;
        size_t l = dec(s, n, i, &c);
        if (is_invisible(c)) {
            i += l;
            continue;
        }
        if (is_space(c)) {
            if (!sb_last_is_space(b)) sb_put(b, " ", 1);
            i += l;
            continue;
        }
        if (c == '&') {
            uint32_t e;
            size_t el = html_entity(s + i, n - i, &e);
            if (el) {
                if (is_space(e)) {
                    if (!sb_last_is_space(b)) sb_put(b, " ", 1);
                } else if (!is_invisible(e)) {
                    sb_cp(b, e);
                }
                i += el;
                continue;
            }
        }
        if (c == '<' && i + 1 < n &&
            ((s[i + 1] | 0x20) >= 'a' && (s[i + 1] | 0x20) <= 'z' ? 1 : s[i + 1] == '/' || s[i + 1] == '!')) {
            size_t j = i + 1;
            while (j < n && s[j] != '>' && s[j] != '<') j++;
            if (j < n && s[j] == '>') {
                const char *t = s + i + 1 + (s[i + 1] == '/');
                size_t tn = (size_t)(s + j - t);
                if ((tn >= 2 && (t[0] | 0x20) == 'b' && (t[1] | 0x20) == 'r') ||
                    (tn >= 1 && (t[0] | 0x20) == 'p' && (tn == 1 || t[1] == ' ')) ||
                    (tn >= 2 && (t[0] | 0x20) == 'l' && (t[1] | 0x20) == 'i') ||
                    (tn >= 3 && (t[0] | 0x20) == 'd' && (t[1] | 0x20) == 'i' && (t[2] | 0x20) == 'v')) {
                    if (!sb_last_is_space(b)) sb_put(b, " ", 1);
                }
                i = j + 1;
                continue;
            }
        }
        /* [text](url) and ![alt](url) -> text */
        if (c == '[' || (c == '!' && i + 1 < n && s[i + 1] == '[')) {
            size_t o = i + (c == '!'), j = o + 1;
            while (j < n && s[j] != ']' && s[j] != '[') j++;
            if (j + 1 < n && s[j] == ']' && s[j + 1] == '(') {
                size_t k = j + 2;
                while (k < n && s[k] != ')' && s[k] != ' ') k++;
                if (k < n && s[k] == ')') {
                    normalize_line(b, s + o + 1, j - o - 1);
                    i = k + 1;
                    continue;
                }
            }
        }
        if ((c == '*' || c == '_') && i + 1 < n && s[i + 1] == (char)c) {
            i += 2;
            continue;
        }
        if (c == '`') {
            i += 1;
            continue;
        }
        /* URLs -> "link", keeping the punctuation that ends the sentence */
        if ((i == 0 || sb_last_is_space(b) || is_opener((unsigned char)s[i - 1])) &&
            (starts_with(s + i, n - i, "http://") || starts_with(s + i, n - i, "https://") ||
             starts_with(s + i, n - i, "www."))) {
            size_t j = i;
            while (j < n && !(s[j] == ' ' || s[j] == '\t')) j++;
            size_t e = j;
            while (e > i && strchr(".,;:!?)]\"'", s[e - 1])) e--;
            sb_put(b, "link", 4);
            i = e;
            continue;
        }
        if (c == '.') {
            size_t j = i, dots = 0;
            while (j < n && s[j] == '.') j++, dots++;
            if (dots < 3 && dots == 1) { /* ". . ." */
                size_t k = i;
                int spaced = 0;
                while (k + 2 < n && s[k] == '.' && s[k + 1] == ' ' && s[k + 2] == '.') k += 2, spaced++;
                if (spaced >= 2) {
                    sb_put(b, "\xe2\x80\xa6", 3);
                    i = k + 1;
                    continue;
                }
            }
            if (dots >= 3) {
                sb_put(b, "\xe2\x80\xa6", 3);
                i = j;
                continue;
            }
        }
        if (c == '-') {
            size_t j = i;
            while (j < n && s[j] == '-') j++;
            int spaced = (i == 0 || s[i - 1] == ' ') && (j == n || s[j] == ' ');
            if (j - i >= 2 || (j - i == 1 && spaced && i > 0 && j < n)) {
                sb_put(b, "\xe2\x80\x94", 3);
                i = j;
                continue;
            }
        }
        if (c == '!' || c == '?') {
            size_t j = i;
            int seen_x = 0, seen_q = 0;
            while (j < n && (s[j] == '!' || s[j] == '?')) {
                if (s[j] == '!' && !seen_x) sb_put(b, "!", 1), seen_x = 1;
                if (s[j] == '?' && !seen_q) sb_put(b, "?", 1), seen_q = 1;
                j++;
            }
            i = j;
            continue;
        }
        sb_put(b, s + i, l);
        i += l;
    }
}

/* Trim spaces (any Unicode space) from both ends of s[*a..*b). */
static void trim(const char *s, size_t *a, size_t *b) {
    while (*a < *b) {
        uint32_t c;
        size_t l = dec(s, *b, *a, &c);
        if (!is_space(c)) break;
        *a += l;
    }
    while (*b > *a) {
        size_t p = prev_cp(s, *b);
        uint32_t c;
        dec(s, *b, p, &c);
        if (!is_space(c)) break;
        *b = p;
    }
}

static int build_paragraphs(const char *text, size_t len, int normalize, para_builder *pb) {
    int in_code = 0, force_next = 0;
    size_t pos = 0;
    while (pos <= len) {
        size_t e = pos;
        while (e < len && text[e] != '\n' && text[e] != '\f') e++;
        int formfeed = e < len && text[e] == '\f';
        size_t a = pos, b = e;
        trim(text, &a, &b);
        const char *line = text + a;
        size_t n = b - a;
        if (normalize && (starts_with(line, n, "```") || starts_with(line, n, "~~~"))) {
            if (!in_code) { /* the whole block becomes one sentence */
                pb_begin_line(pb, 1);
                sb_put(&pb->buf, "Code example omitted.", 21);
                force_next = 1;
            }
            in_code = !in_code;
        } else if (in_code) {
            /* dropped */
        } else if (n == 0) {
            pb_end_para(pb);
            force_next = 0;
        } else {
            int force = force_next;
            force_next = 0;
            size_t m = list_marker(line, n);
            if (m) force = 1;
            if (normalize) {
                size_t h = 0;
                while (h < n && h < 6 && line[h] == '#') h++;
                if (h > 0 && h < n && line[h] == ' ') { /* heading: a sentence of its own */
                    m = h + 1;
                    force = force_next = 1;
                } else if (n >= 2 && line[0] == '>' && line[1] == ' ') {
                    m = 2;
                }
                if (m) {
                    line += m;
                    n -= m;
                    size_t a2 = 0, b2 = n;
                    trim(line, &a2, &b2);
                    line += a2;
                    n = b2 - a2;
                }
            }
            if (n > 0) {
                pb_begin_line(pb, force);
                if (normalize) {
                    normalize_line(&pb->buf, line, n);
                    while (pb->buf.len > 0 && pb->buf.p[pb->buf.len - 1] == ' ') pb->buf.len--;
                } else {
                    sb_put(&pb->buf, line, n);
                }
            }
        }
        if (formfeed) pb_end_para(pb);
        if (e >= len) break;
        pos = e + 1;
    }
    pb_end_para(pb);
    return pb->buf.oom || pb->para_start.oom || pb->para_end.oom || pb->forced.oom ? -1 : 0;
}

/* ---- step 3: sentences ---------------------------------------------------------- */

/* Should the terminator run s[ti..j) (first code point t, `dots` periods or an
 * ellipsis) end the sentence that started at s0?  s[0..pe) is the paragraph. */
static int ends_sentence(const char *s, size_t pe, size_t s0, size_t ti, size_t j, uint32_t t,
                         int ellipsis, vox_lang lang) {
    /* the next word, after spaces and opening quotes/brackets */
    size_t k = j;
    uint32_t nc = 0;
    while (k < pe) {
        size_t l = dec(s, pe, k, &nc);
        if (!is_space(nc) && !is_opener(nc)) break;
        k += l;
    }
    if (k >= pe) return 1;
    int latin_term = t == '.' || t == '!' || t == '?' || t == 0x2026;
    if (!latin_term) return 1;
    if (is_lower(nc)) return 0;
    if (t != '.' || ellipsis) return 1;

    /* the word before the period, without quotes/brackets around it */
    size_t ws = ti;
    while (ws > s0) {
        size_t p = prev_cp(s, ws);
        uint32_t c;
        dec(s, pe, p, &c);
        if (is_space(c)) break;
        ws = p;
    }
    size_t we = ti;
    for (;;) {
        if (ws >= we) break;
        uint32_t c;
        size_t l = dec(s, we, ws, &c);
        if (!is_opener(c)) break;
        ws += l;
    }
    while (we > ws) {
        size_t p = prev_cp(s, we);
        uint32_t c;
        dec(s, we, p, &c);
        if (!is_closer(c)) break;
        we = p;
    }
    /* elision: "l'Avv" -> "Avv" */
    for (size_t q = ws; q < we;) {
        uint32_t c;
        size_t l = dec(s, we, q, &c);
        if ((c == '\'' || c == 0x2019) && q + l < we) ws = q + l;
        q += l;
    }
    const char *w = s + ws;
    size_t wn = we - ws;
    if (wn == 0) return 1;
    if (is_abbrev(w, wn, lang, is_digit(nc))) return 0;
    uint32_t c0;
    size_t l0 = dec(w, wn, 0, &c0);
    if (l0 == wn && is_letter(c0)) return 0; /* an initial */
    if (is_dotted(w, wn)) return 0;
    /* a list number or roman numeral opening the sentence: "1. Mix the flour" */
    size_t first = s0;
    while (first < ws) {
        uint32_t c;
        size_t l = dec(s, pe, first, &c);
        if (!is_space(c) && !is_opener(c)) break;
        first += l;
    }
    if (first == ws && (all_digits(w, wn, 1) || is_roman(w, wn))) return 0;
    /* German/Dutch ordinals: "am 3. Oktober", "der 2. Weltkrieg" */
    if ((lang == VOX_LANG_DE || lang == VOX_LANG_NL || lang == VOX_LANG_AUTO) &&
        all_digits(w, wn, 0) && wn <= 3) {
        size_t ne = k;
        while (ne < pe) {
            uint32_t c;
            size_t l = dec(s, pe, ne, &c);
            if (!is_letter(c)) break;
            ne += l;
        }
        if (in_list(s + k, ne - k, ORD_MONTHS, sizeof ORD_MONTHS / sizeof ORD_MONTHS[0]))
            return 0;
        if (lang != VOX_LANG_AUTO) {
            size_t pe2 = ws;
            while (pe2 > s0 && s[pe2 - 1] == ' ') pe2--;
            size_t ps = pe2;
            while (ps > s0 && s[ps - 1] != ' ') ps--;
            if (pe2 > ps && in_list(s + ps, pe2 - ps, ORD_BEFORE, sizeof ORD_BEFORE / sizeof ORD_BEFORE[0]))
                return 0;
        }
    }
    return 1;
}

static void push_sentence(const char *s, size_t a, size_t b, size_t para, zvec *st, zvec *en,
                          zvec *pa) {
    trim(s, &a, &b);
    if (a >= b) return;
    zv_push(st, a);
    zv_push(en, b);
    zv_push(pa, para);
}

static void scan_paragraph(const char *s, size_t ps, size_t pe, size_t para, const zvec *forced,
                           size_t *fi, vox_lang lang, zvec *st, zvec *en, zvec *pa) {
    size_t s0 = ps, i = ps;
    while (i < pe) {
        while (*fi < forced->n && forced->v[*fi] < i) (*fi)++;
        if (*fi < forced->n && forced->v[*fi] == i && i > s0) {
            push_sentence(s, s0, i, para, st, en, pa);
            s0 = i;
        }
        uint32_t c;
        size_t l = dec(s, pe, i, &c);
        if (!is_terminator(c)) {
            i += l;
            continue;
        }
        size_t ti = i, j = i + l;
        int dots = c == '.', ellipsis = c == 0x2026, cjk = is_cjk_term(c);
        while (j < pe) {
            uint32_t d;
            size_t dl = dec(s, pe, j, &d);
            if (!is_terminator(d)) break;
            if (d == '.') dots++;
            if (d == 0x2026) ellipsis = 1;
            cjk |= is_cjk_term(d);
            j += dl;
        }
        if (dots >= 2) ellipsis = 1;
        for (;;) {
            /* closers; French spacing puts a space before » ("Viens ! ») */
            size_t q = j;
            uint32_t d = 0;
            while (q < pe) {
                size_t sl = dec(s, pe, q, &d);
                if (!(d == ' ' || d == 0xA0 || d == 0x202F)) break;
                q += sl;
            }
            if (q >= pe) break;
            size_t dl = dec(s, pe, q, &d);
            if (q > j ? !(d == 0xBB || d == 0x203A) : !is_closer(d)) break;
            j = q + dl;
        }
        uint32_t after = 0;
        if (j < pe) dec(s, pe, j, &after);
        if (j < pe && !cjk && !is_space(after)) { /* inside a token: 3.14, example.com */
            i = j;
            continue;
        }
        if (ends_sentence(s, pe, s0, ti, j, c, ellipsis, lang)) {
            push_sentence(s, s0, j, para, st, en, pa);
            s0 = j;
        }
        i = j;
    }
    push_sentence(s, s0, pe, para, st, en, pa);
}

void vox_sentences_free(vox_sentences *s) {
    if (!s) return;
    free(s->buf);
    free(s->start);
    free(s->end);
    free(s->para);
    memset(s, 0, sizeof *s);
}

int vox_split_sentences(const char *text, size_t len, vox_lang lang, int normalize,
                        vox_sentences *out, vox_error *err) {
    memset(out, 0, sizeof *out);
    if (!text && len) return vox_fail(err, VOX_E_ARG, "text is NULL");
    int rc = vox_utf8_check(text, len, NULL, err);
    if (rc) return rc;
    para_builder pb;
    memset(&pb, 0, sizeof pb);
    zvec st = {0}, en = {0}, pa = {0};
    if (build_paragraphs(text ? text : "", len, normalize, &pb)) goto nomem;
    size_t fi = 0;
    for (size_t p = 0; p < pb.para_start.n && p < pb.para_end.n; p++)
        scan_paragraph(pb.buf.p, pb.para_start.v[p], pb.para_end.v[p], p, &pb.forced, &fi, lang,
                       &st, &en, &pa);
    if (st.oom || en.oom || pa.oom) goto nomem;
    out->buf = pb.buf.p ? pb.buf.p : calloc(1, 1);
    if (!out->buf) goto nomem;
    out->len = pb.buf.len;
    out->n = st.n;
    out->start = st.v;
    out->end = en.v;
    out->para = malloc((pa.n ? pa.n : 1) * sizeof *out->para);
    if (!out->para) {
        pb.buf.p = NULL;
        st.v = en.v = NULL;
        vox_sentences_free(out);
        goto nomem;
    }
    for (size_t i = 0; i < pa.n; i++) out->para[i] = (int)pa.v[i];
    free(pa.v);
    free(pb.para_start.v);
    free(pb.para_end.v);
    free(pb.forced.v);
    return VOX_OK;
nomem:
    free(pb.buf.p);
    free(pb.para_start.v);
    free(pb.para_end.v);
    free(pb.forced.v);
    free(st.v);
    free(en.v);
    free(pa.v);
    return vox_fail(err, VOX_E_NOMEM, "out of memory splitting %zu bytes of text", len);
}

/* ---- step 4-5: chunks ------------------------------------------------------------- */

int vox_split_estimate_frames(int n_tokens) {
    if (n_tokens < 0) n_tokens = 0;
    if (n_tokens > (1 << 24)) n_tokens = 1 << 24;
    return VOX_SPLIT_FRAMES_PER_TOKEN * n_tokens + VOX_SPLIT_FRAMES_BASE;
}

int vox_split_token_budget(int max_tokens, int max_frames) {
    int budget = max_tokens > 0 ? max_tokens : VOX_SPLIT_DEFAULT_MAX_TOKENS;
    if (max_frames > 0) {
        long long room = (long long)max_frames * 3 / 4 - VOX_SPLIT_FRAMES_BASE;
        long long by_frames = room > 0 ? room / VOX_SPLIT_FRAMES_PER_TOKEN : 0;
        if (by_frames < VOX_SPLIT_MIN_TOKENS) by_frames = VOX_SPLIT_MIN_TOKENS;
        if (by_frames < budget) budget = (int)by_frames;
    }
    return budget;
}

static int has_speakable(const char *s, size_t a, size_t b) {
    for (size_t i = a; i < b;) {
        uint32_t c;
        size_t l = dec(s, b, i, &c);
        if (!is_space(c) && !is_punct(c) && !is_invisible(c)) return 1;
        i += l;
    }
    return 0;
}

typedef struct packer {
    const char *buf;
    vox_lang lang;
    int budget;
    vox_count_tokens_fn count;
    void *count_user;
    vox_error *err;
    voxtts_chunk *chunks;
    size_t n, cap;
    int para;       /* paragraph index of the chunks being made */
    int para_first; /* the next chunk starts the paragraph */
} packer;

/* The spoken text of buf[a..b): trimmed, with terminal punctuation. malloc'd. */
static char *finish_chunk(const char *buf, size_t a, size_t b, vox_lang lang) {
    trim(buf, &a, &b);
    /* the last code point that is not a closer */
    size_t core = b;
    while (core > a) {
        size_t p = prev_cp(buf, core);
        uint32_t c;
        dec(buf, b, p, &c);
        if (!is_closer(c)) break;
        core = p;
    }
    uint32_t last = 0;
    size_t lp = core;
    if (core > a) {
        lp = prev_cp(buf, core);
        dec(buf, b, lp, &last);
    }
    int hindi = lang == VOX_LANG_HI;
    if (lang == VOX_LANG_AUTO) { /* the script of the last letter */
        for (size_t i = b; i > a;) {
            i = prev_cp(buf, i);
            uint32_t c;
            dec(buf, b, i, &c);
            if (is_letter(c)) {
                hindi = is_devanagari(c);
                break;
            }
        }
    }
    const char *term = hindi ? "\xe0\xa5\xa4" : ".";
    size_t tl = strlen(term);
    size_t keep_a = b, keep_b = b; /* closers kept after the terminal */
    size_t head = b;                /* text before the terminal */
    int add = 1;
    if (core > a && is_terminator(last)) {
        add = 0;
    } else if (core > a && is_clause(last)) {
        head = lp;
        keep_a = core;
    } else if (core > a && is_dash(last) && core == b) {
        head = lp;
        while (head > a && buf[head - 1] == ' ') head--;
        if (head == a) head = b; /* only a dash: keep it */
    }
    size_t n = (head - a) + (add ? tl : 0) + (keep_b - keep_a);
    char *o = malloc(n + 1);
    if (!o) return NULL;
    memcpy(o, buf + a, head - a);
    size_t k = head - a;
    if (add) {
        memcpy(o + k, term, tl);
        k += tl;
    }
    memcpy(o + k, buf + keep_a, keep_b - keep_a);
    k += keep_b - keep_a;
    o[k] = '\0';
    return o;
}

/* Tokens of buf[a..b) as a finished chunk; *text receives it when not NULL. */
static int measure(packer *pk, size_t a, size_t b, size_t *tokens, char **text) {
    char *t = finish_chunk(pk->buf, a, b, pk->lang);
    if (!t) return vox_fail(pk->err, VOX_E_NOMEM, "out of memory splitting the text");
    int rc = pk->count(pk->count_user, t, strlen(t), tokens, pk->err);
    if (rc || !text) free(t);
    else *text = t;
    return rc;
}

static int emit(packer *pk, size_t a, size_t b) {
    char *t = NULL;
    size_t tokens;
    int rc = measure(pk, a, b, &tokens, &t);
    if (rc) return rc;
    if (pk->n == pk->cap) {
        size_t cap = pk->cap ? pk->cap * 2 : 32;
        voxtts_chunk *c = realloc(pk->chunks, cap * sizeof *c);
        if (!c) {
            free(t);
            return vox_fail(pk->err, VOX_E_NOMEM, "out of memory for %zu chunks", cap);
        }
        pk->chunks = c;
        pk->cap = cap;
    }
    voxtts_chunk *c = &pk->chunks[pk->n++];
    c->text = t;
    c->n_tokens = tokens > (size_t)1 << 30 ? 1 << 30 : (int)tokens;
    c->est_frames = vox_split_estimate_frames(c->n_tokens);
    c->paragraph = pk->para;
    c->paragraph_start = pk->para_first;
    pk->para_first = 0;
    return VOX_OK;
}

enum { LV_SENTENCE, LV_CLAUSE, LV_WORD, LV_GRAPHEME, LV_CODEPOINT };

/* Cut buf[a..b) into the pieces of the next level down. */
static int sub_units(const char *s, size_t a, size_t b, int level, zvec *st, zvec *en) {
    size_t start = a;
    for (size_t i = a; i < b;) {
        uint32_t c;
        size_t l = dec(s, b, i, &c);
        size_t cut = 0; /* cut before position cut (0: none) */
        if (level == LV_CLAUSE) {
            if (is_clause(c) && (i + l >= b || s[i + l] == ' ' || c >= 0x3000)) cut = i + l;
            else if (is_dash(c) && i > a && s[i - 1] == ' ' && i + l < b && s[i + l] == ' ')
                cut = i + l;
        } else if (level == LV_WORD) {
            if (is_space(c)) cut = i;
        } else if (level == LV_GRAPHEME) {
            if (i > start && !is_combining(c)) {
                size_t p = prev_cp(s, i);
                uint32_t pc;
                dec(s, b, p, &pc);
                if (pc != 0x200D) cut = i;
            }
        } else {
            if (i > start) cut = i;
        }
        if (cut && cut > start) {
            size_t x = start, y = cut;
            trim(s, &x, &y);
            if (y > x) {
                zv_push(st, x);
                zv_push(en, y);
            }
            start = cut;
        }
        i += l;
    }
    size_t x = start, y = b;
    trim(s, &x, &y);
    if (y > x) {
        zv_push(st, x);
        zv_push(en, y);
    }
    return st->oom || en->oom ? -1 : 0;
}

static int pack(packer *pk, const size_t *us, const size_t *ue, size_t nu, int level);

static int fits(packer *pk, size_t a, size_t b, int *ok) {
    size_t t;
    int rc = measure(pk, a, b, &t, NULL);
    *ok = rc == VOX_OK && t <= (size_t)pk->budget;
    return rc;
}

/* Pack units us/ue[0..nu) greedily: each chunk takes as many whole units as fit. */
static int pack(packer *pk, const size_t *us, const size_t *ue, size_t nu, int level) {
    size_t i = 0;
    int rc, ok;
    while (i < nu) {
        if ((rc = fits(pk, us[i], ue[i], &ok))) return rc;
        if (!ok) {
            if (level >= LV_CODEPOINT) { /* one code point over the budget: it goes alone */
                if ((rc = emit(pk, us[i], ue[i]))) return rc;
                i++;
                continue;
            }
            zvec st = {0}, en = {0};
            int lv = level + 1;
            for (;; lv++) { /* the next level that actually cuts it */
                st.n = en.n = 0;
                if (sub_units(pk->buf, us[i], ue[i], lv, &st, &en)) {
                    free(st.v);
                    free(en.v);
                    return vox_fail(pk->err, VOX_E_NOMEM, "out of memory splitting the text");
                }
                if (st.n > 1 || lv >= LV_CODEPOINT) break;
            }
            rc = pack(pk, st.v, en.v, st.n, lv);
            free(st.v);
            free(en.v);
            if (rc) return rc;
            i++;
            continue;
        }
        /* largest k with units i..i+k-1 fitting: double, then bisect */
        size_t avail = nu - i, good = 1, bad = avail + 1, k = 2;
        while (good < avail && k < bad) {
            if (k > avail) k = avail;
            if ((rc = fits(pk, us[i], ue[i + k - 1], &ok))) return rc;
            if (ok) {
                good = k;
                k *= 2;
            } else {
                bad = k;
            }
        }
        while (bad - good > 1) {
            size_t mid = good + (bad - good) / 2;
            if ((rc = fits(pk, us[i], ue[i + mid - 1], &ok))) return rc;
            if (ok) good = mid;
            else bad = mid;
        }
        if ((rc = emit(pk, us[i], ue[i + good - 1]))) return rc;
        i += good;
    }
    return VOX_OK;
}

int vox_split_chunks(const char *text, size_t len, vox_lang lang, int normalize, int budget,
                     vox_count_tokens_fn count, void *count_user, voxtts_chunks *out,
                     vox_error *err) {
    memset(out, 0, sizeof *out);
    if (budget < 1) return vox_fail(err, VOX_E_ARG, "token budget %d must be positive", budget);
    vox_sentences ss;
    int rc = vox_split_sentences(text, len, lang, normalize, &ss, err);
    if (rc) return rc;
    packer pk = {ss.buf, lang, budget, count, count_user, err, NULL, 0, 0, 0, 0};
    size_t *us = malloc((ss.n ? ss.n : 1) * sizeof *us), *ue = malloc((ss.n ? ss.n : 1) * sizeof *ue);
    if (!us || !ue) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory splitting the text");
        goto done;
    }
    int out_para = 0;
    for (size_t i = 0; i < ss.n && !rc;) {
        /* one paragraph: its units, text without anything speakable joined to a neighbour */
        int p = ss.para[i];
        size_t nu = 0, pending = (size_t)-1;
        for (; i < ss.n && ss.para[i] == p; i++) {
            if (!has_speakable(ss.buf, ss.start[i], ss.end[i])) {
                if (nu > 0) ue[nu - 1] = ss.end[i];
                else if (pending == (size_t)-1) pending = ss.start[i];
                continue;
            }
            us[nu] = pending != (size_t)-1 ? pending : ss.start[i];
            ue[nu] = ss.end[i];
            pending = (size_t)-1;
            nu++;
        }
        if (nu == 0) continue;
        pk.para = out_para++;
        pk.para_first = 1;
        rc = pack(&pk, us, ue, nu, LV_SENTENCE);
    }
done:
    free(us);
    free(ue);
    vox_sentences_free(&ss);
    if (rc) {
        for (size_t i = 0; i < pk.n; i++) free(pk.chunks[i].text);
        free(pk.chunks);
        return rc;
    }
    out->chunk = pk.chunks;
    out->n = pk.n;
    out->token_budget = budget;
    return VOX_OK;
}
