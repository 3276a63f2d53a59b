/* test_splitter.c — tests of the long-text splitter (src/text/splitter.c).
 *
 * Sentences: tricky sentences of our own in the nine languages (abbreviations,
 * initials, decimals, times, ordinals, ellipses, quotes, URLs, list numbers, the
 * Hindi/Arabic/CJK terminators), paragraphs and normalization.  Chunks: the
 * token budget holds for every chunk (a word-counting tokenizer, and the tiny
 * checkpoint's real Tekken file), sentences are never cut while they fit, long
 * sentences are cut at clause punctuation, then spaces, then characters (never
 * before a combining mark), every chunk ends in terminal punctuation, nothing is
 * lost (the chunks hold every word of the text, in order), and the edge cases:
 * empty text, only whitespace, only punctuation, a 5000-character sentence
 * without punctuation, a 5000-character word, emoji, mixed scripts and invalid
 * UTF-8 (with its byte offset). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "text/splitter.h"
#include "text/tekken.h"

/* The sentences of text, joined by " | ", with "¶" between paragraphs. */
static char *sentences(const char *lang, const char *text, int normalize) {
    vox_lang l;
    vox_error err = {0};
    if (vox_lang_parse(lang, &l, &err)) return NULL;
    vox_sentences s;
    if (vox_split_sentences(text, strlen(text), l, normalize, &s, &err)) {
        fprintf(stderr, "split error: %s\n", err.msg);
        return NULL;
    }
    size_t cap = s.len * 2 + 16 + s.n * 8;
    char *o = malloc(cap);
    if (!o) {
        vox_sentences_free(&s);
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (i > 0) {
            const char *sep = s.para[i] != s.para[i - 1] ? " | \xc2\xb6 | " : " | ";
            memcpy(o + k, sep, strlen(sep));
            k += strlen(sep);
        }
        memcpy(o + k, s.buf + s.start[i], s.end[i] - s.start[i]);
        k += s.end[i] - s.start[i];
    }
    o[k] = '\0';
    vox_sentences_free(&s);
    return o;
}

static void expect(const char *lang, const char *text, const char *want) {
    char *got = sentences(lang, text, 0);
    CHECK(got && strcmp(got, want) == 0, "[%s] %s\n   want: %s\n    got: %s", lang, text, want,
          got ? got : "(error)");
    free(got);
}

static void expect_norm(const char *text, const char *want) {
    char *got = sentences("auto", text, 1);
    CHECK(got && strcmp(got, want) == 0, "[normalize] %s\n   want: %s\n    got: %s", text, want,
          got ? got : "(error)");
    free(got);
}

static void test_english(void) {
    expect("en", "Mr. Smith went to Washington. He arrived on Monday.",
           "Mr. Smith went to Washington. | He arrived on Monday.");
    expect("en", "Mrs. and Dr. Jones live on Baker St. near the park.",
           "Mrs. and Dr. Jones live on Baker St. near the park.");
    expect("en", "J. R. R. Tolkien wrote it. Everyone read it.",
           "J. R. R. Tolkien wrote it. | Everyone read it.");
    expect("en", "Pi is about 3.14 and the train leaves at 10.30 today. Be on time!",
           "Pi is about 3.14 and the train leaves at 10.30 today. | Be on time!");
    expect("en", "Bring fruit, e.g. apples or pears, i.e. something sweet. Thanks.",
           "Bring fruit, e.g. apples or pears, i.e. something sweet. | Thanks.");
    expect("en", "I was... thinking. Wait… What was that?",
           "I was... thinking. | Wait… | What was that?");
    expect("en", "\"Stop!\" he shouted. \"Why?\" she asked. Nobody knew.",
           "\"Stop!\" he shouted. | \"Why?\" she asked. | Nobody knew.");
    expect("en", "Visit example.com. Then mail info@example.org. Done.",
           "Visit example.com. | Then mail info@example.org. | Done.");
    expect("en", "1. Preheat the oven. 2. Mix the flour.",
           "1. Preheat the oven. | 2. Mix the flour.");
    expect("en", "It happened in the U.S. during the war. Really?! Yes.",
           "It happened in the U.S. during the war. | Really?! | Yes.");
    expect("en", "See Fig. 3 and No. 7 for details (they are clear.) Next one.",
           "See Fig. 3 and No. 7 for details (they are clear.) | Next one.");
    expect("en", "He said “I’m done.” Then he left.", "He said “I’m done.” | Then he left.");
    expect("en", "The price rose in 1990. Prices fell in 2000.",
           "The price rose in 1990. | Prices fell in 2000.");
}

static void test_french(void) {
    expect("fr", "M. Dupont est arrivé. Mme Martin aussi.", "M. Dupont est arrivé. | Mme Martin aussi.");
    expect("fr", "Mme. Durand et Dr. Petit sont là. Ils attendent.",
           "Mme. Durand et Dr. Petit sont là. | Ils attendent.");
    expect("fr", "Il coûte 3,14 euros. C'est peu !", "Il coûte 3,14 euros. | C'est peu !");
    expect("fr", "« Viens ! » cria-t-il. Elle vint.", "« Viens ! » cria-t-il. | Elle vint.");
    expect("fr", "Prenez des fruits, p.ex. des pommes. Merci.",
           "Prenez des fruits, p.ex. des pommes. | Merci.");
    expect("fr", "Il est 10.30 maintenant. On part ?", "Il est 10.30 maintenant. | On part ?");
    expect("fr", "Je pensais… enfin bref. Passons.", "Je pensais… enfin bref. | Passons.");
    expect("fr", "Me Leroy plaide demain. Le juge écoute.", "Me Leroy plaide demain. | Le juge écoute.");
    expect("fr", "Voir le chap. 4 du livre. Ensuite, lisez.",
           "Voir le chap. 4 du livre. | Ensuite, lisez.");
    expect("fr", "Mlle. Roux habite à Paris. Elle est Ste. Catherine.",
           "Mlle. Roux habite à Paris. | Elle est Ste. Catherine.");
    expect("fr", "Quoi ? Vraiment ! Oui.", "Quoi ? | Vraiment ! | Oui.");
}

static void test_spanish(void) {
    expect("es", "El Sr. García llegó tarde. La Sra. López no.",
           "El Sr. García llegó tarde. | La Sra. López no.");
    expect("es", "¿Vienes mañana? ¡Claro que sí! Nos vemos.",
           "¿Vienes mañana? | ¡Claro que sí! | Nos vemos.");
    expect("es", "La Dra. Ruiz y la Srta. Gómez hablaron. Fue largo.",
           "La Dra. Ruiz y la Srta. Gómez hablaron. | Fue largo.");
    expect("es", "Cuesta 3,50 euros. Es barato.", "Cuesta 3,50 euros. | Es barato.");
    expect("es", "Lea la pág. 12 del libro. Luego descanse.",
           "Lea la pág. 12 del libro. | Luego descanse.");
    expect("es", "Trae fruta, p.ej. manzanas. Gracias.", "Trae fruta, p.ej. manzanas. | Gracias.");
    expect("es", "Ud. tiene razón. Vd. también.", "Ud. tiene razón. | Vd. también.");
    expect("es", "Vive en EE.UU. desde hace años. Le gusta.",
           "Vive en EE.UU. desde hace años. | Le gusta.");
    expect("es", "Son las 10.30 de la mañana. Vamos.", "Son las 10.30 de la mañana. | Vamos.");
    expect("es", "Pensé que… bueno, da igual. Sigamos.", "Pensé que… bueno, da igual. | Sigamos.");
}

static void test_german(void) {
    expect("de", "Am 3. Oktober 1990 war es so weit. Alle feierten.",
           "Am 3. Oktober 1990 war es so weit. | Alle feierten.");
    expect("de", "Der 2. Weltkrieg endete 1945. Danach kam der Frieden.",
           "Der 2. Weltkrieg endete 1945. | Danach kam der Frieden.");
    expect("de", "Das ist z.B. gut. Das auch.", "Das ist z.B. gut. | Das auch.");
    expect("de", "Hr. Müller und Fr. Schmidt kamen. Dr. Weber nicht.",
           "Hr. Müller und Fr. Schmidt kamen. | Dr. Weber nicht.");
    expect("de", "Das kostet 5 Mio. Euro. Das ist viel.", "Das kostet 5 Mio. Euro. | Das ist viel.");
    expect("de", "Siehe Nr. 5 und S. 12. Fertig.", "Siehe Nr. 5 und S. 12. | Fertig.");
    expect("de", "Die Antwort ist 42. Niemand glaubte es.",
           "Die Antwort ist 42. | Niemand glaubte es.");
    expect("de", "Er kommt um 10.30 Uhr bzw. etwas später. Gut.",
           "Er kommt um 10.30 Uhr bzw. etwas später. | Gut.");
    expect("de", "„Komm!“ rief sie. Er kam.", "„Komm!“ rief sie. | Er kam.");
    expect("de", "Pi ist ca. 3,14. Das weiß jeder.", "Pi ist ca. 3,14. | Das weiß jeder.");
    expect("de", "Im 19. Jahrhundert war das anders. Heute nicht.",
           "Im 19. Jahrhundert war das anders. | Heute nicht.");
}

static void test_italian(void) {
    expect("it", "Il Sig. Rossi è arrivato. La Sig.ra Bianchi no.",
           "Il Sig. Rossi è arrivato. | La Sig.ra Bianchi no.");
    expect("it", "Il Dott. Verdi visita oggi. Domani no.", "Il Dott. Verdi visita oggi. | Domani no.");
    expect("it", "Costa 3,14 euro. È poco!", "Costa 3,14 euro. | È poco!");
    expect("it", "Porta frutta, mele ecc. e pane. Grazie.", "Porta frutta, mele ecc. e pane. | Grazie.");
    expect("it", "Vedi pag. 7 del libro. Poi leggi.", "Vedi pag. 7 del libro. | Poi leggi.");
    expect("it", "L'Avv. Neri e l'Ing. Gallo parlano. Tutti ascoltano.",
           "L'Avv. Neri e l'Ing. Gallo parlano. | Tutti ascoltano.");
    expect("it", "Sono le 10.30 ormai. Andiamo?", "Sono le 10.30 ormai. | Andiamo?");
    expect("it", "Chi era? Non so. Forse lui.", "Chi era? | Non so. | Forse lui.");
    expect("it", "Pensavo… no, niente. Continuiamo.", "Pensavo… no, niente. | Continuiamo.");
    expect("it", "La Dott.ssa Fabbri è qui. Entri pure.", "La Dott.ssa Fabbri è qui. | Entri pure.");
}

static void test_portuguese(void) {
    expect("pt", "O Sr. Silva chegou. A Sra. Costa também.", "O Sr. Silva chegou. | A Sra. Costa também.");
    expect("pt", "A Dra. Souza atende hoje. Amanhã não.", "A Dra. Souza atende hoje. | Amanhã não.");
    expect("pt", "Custa 3,14 reais. É barato!", "Custa 3,14 reais. | É barato!");
    expect("pt", "Traga frutas, p.ex. maçãs. Obrigado.", "Traga frutas, p.ex. maçãs. | Obrigado.");
    expect("pt", "Veja a pág. 9 do livro. Depois descanse.", "Veja a pág. 9 do livro. | Depois descanse.");
    expect("pt", "Você vem? Sim! Até logo.", "Você vem? | Sim! | Até logo.");
    expect("pt", "São 10.30 agora. Vamos.", "São 10.30 agora. | Vamos.");
    expect("pt", "O Prof. Lima e a Profa. Dias falaram. Foi bom.",
           "O Prof. Lima e a Profa. Dias falaram. | Foi bom.");
    expect("pt", "Moro na Av. Paulista há anos. Gosto daqui.",
           "Moro na Av. Paulista há anos. | Gosto daqui.");
    expect("pt", "Eu achava… bem, esquece. Continuemos.", "Eu achava… bem, esquece. | Continuemos.");
}

static void test_dutch(void) {
    expect("nl", "Dhr. Jansen is er. Mevr. de Vries ook.", "Dhr. Jansen is er. | Mevr. de Vries ook.");
    expect("nl", "Neem fruit mee, bijv. appels. Dank je.", "Neem fruit mee, bijv. appels. | Dank je.");
    expect("nl", "Dat is d.w.z. goed. Prima.", "Dat is d.w.z. goed. | Prima.");
    expect("nl", "Op 3. mei was het feest. Iedereen kwam.",
           "Op 3. mei was het feest. | Iedereen kwam.");
    expect("nl", "Het kost 3,14 euro. Niet duur!", "Het kost 3,14 euro. | Niet duur!");
    expect("nl", "Zie nr. 4 en blz. 10. Klaar.", "Zie nr. 4 en blz. 10. | Klaar.");
    expect("nl", "Dr. Bakker komt om 10.30 uur. Wacht even.", "Dr. Bakker komt om 10.30 uur. | Wacht even.");
    expect("nl", "Kom je? Ja! Tot straks.", "Kom je? | Ja! | Tot straks.");
    expect("nl", "Mr. Visser is advocaat. Hij pleit.", "Mr. Visser is advocaat. | Hij pleit.");
    expect("nl", "Ik dacht… nou ja, laat maar. Verder.", "Ik dacht… nou ja, laat maar. | Verder.");
}

static void test_arabic(void) {
    expect("ar", "مرحبا بكم. كيف حالكم؟ نحن بخير.", "مرحبا بكم. | كيف حالكم؟ | نحن بخير.");
    expect("ar", "هل أنت مستعد؟ نعم! لنبدأ.", "هل أنت مستعد؟ | نعم! | لنبدأ.");
    expect("ar", "قال د. أحمد إن الجو جميل. ثم غادر.", "قال د. أحمد إن الجو جميل. | ثم غادر.");
    expect("ar", "الرقم هو 3.14 تقريبا. هذا معروف.", "الرقم هو 3.14 تقريبا. | هذا معروف.");
    expect("ar", "الساعة الآن 10.30 صباحا. هيا بنا.", "الساعة الآن 10.30 صباحا. | هيا بنا.");
    expect("ar", "«تعال!» قال الرجل. فجاء.", "«تعال!» | قال الرجل. | فجاء.");
    expect("ar", "زرت الموقع example.com أمس. كان مفيدا.", "زرت الموقع example.com أمس. | كان مفيدا.");
    expect("ar", "أين الكتاب؟ على الطاولة.", "أين الكتاب؟ | على الطاولة.");
    expect("ar", "انتظر... ماذا حدث؟ لا أعرف.", "انتظر... | ماذا حدث؟ | لا أعرف.");
    expect("ar", "قرأت الكتاب، وكان رائعا. أنصح به.", "قرأت الكتاب، وكان رائعا. | أنصح به.");
}

static void test_hindi(void) {
    expect("hi", "मैं घर जा रहा हूँ। तुम कहाँ हो?", "मैं घर जा रहा हूँ। | तुम कहाँ हो?");
    expect("hi", "डॉ. शर्मा आज आएंगे। वे देर से आएंगे।", "डॉ. शर्मा आज आएंगे। | वे देर से आएंगे।");
    expect("hi", "यह कविता है॥ अब अगला भाग।", "यह कविता है॥ | अब अगला भाग।");
    expect("hi", "मूल्य 3.14 रुपये है। यह सस्ता है!", "मूल्य 3.14 रुपये है। | यह सस्ता है!");
    expect("hi", "समय 10.30 बजे है। चलो।", "समय 10.30 बजे है। | चलो।");
    expect("hi", "क्या तुम आओगे? हाँ! ठीक है।", "क्या तुम आओगे? | हाँ! | ठीक है।");
    expect("hi", "प्रो. वर्मा पढ़ाते हैं। छात्र सुनते हैं।", "प्रो. वर्मा पढ़ाते हैं। | छात्र सुनते हैं।");
    expect("hi", "उसने कहा, \"रुको!\" फिर वह चला गया।", "उसने कहा, \"रुको!\" | फिर वह चला गया।");
    expect("hi", "मैंने सोचा... खैर, छोड़ो। आगे बढ़ो।", "मैंने सोचा... | खैर, छोड़ो। | आगे बढ़ो।");
    expect("hi", "यह Mr. Smith का घर है। वह यहाँ रहता है।", "यह Mr. Smith का घर है। | वह यहाँ रहता है।");
}

static void test_structure(void) {
    expect("en", "First line\nsecond line. Next.\n\nNew paragraph.",
           "First line second line. | Next. | \xc2\xb6 | New paragraph.");
    expect("en", "One.\r\n\r\n\r\nTwo.\r\n", "One. | \xc2\xb6 | Two.");
    expect("en", "Shopping:\n- milk\n- eggs\n3) bread", "Shopping: | - milk | - eggs | 3) bread");
    expect("en", "Page one.\fPage two.", "Page one. | \xc2\xb6 | Page two.");
    expect("en", "中文句子。第二句！第三句？", "中文句子。 | 第二句！ | 第三句？");
    expect("en", "Emoji 😀 here! 👍🏽 Nice.", "Emoji 😀 here! | 👍🏽 Nice.");
    expect("en", "Mixed English and русский текст. Ещё одно.", "Mixed English and русский текст. | Ещё одно.");
    expect("auto", "Am 3. Oktober kam er. Er war 1990. August war heiß.",
           "Am 3. Oktober kam er. | Er war 1990. | August war heiß.");
    expect("en", "", "");
    expect("en", "   \n\t  \n", "");
    expect_norm("# Title\nSome **bold** text &amp; more.  See [the site](https://x.org/a.b).",
                "Title | Some bold text & more. | See the site.");
    expect_norm("Go to https://example.com/a?b=1. Then wait...", "Go to link. | Then wait…");
    expect_norm("Really?!?! Yes!!! Fine -- ok.", "Really?! | Yes! | Fine — ok.");
    expect_norm("A\xe2\x80\x8b" "b\xc2\xad" "c and\ttabs   and\xc2\xa0spaces.", "Abc and tabs and spaces.");
    expect_norm("Intro:\n```\ncode();\n```\nAfter.", "Intro: | Code example omitted. | After.");
    expect_norm("<p>Hello<br>world</p>", "Hello world");
    expect_norm("- first item\n- second item", "first item | second item");
}

/* ---- chunks -------------------------------------------------------------------------- */

/* A tokenizer stand-in: one token per punctuation byte, and one per 8 bytes
 * (started) of each run of other bytes between spaces and punctuation. */
static int count_words(void *user, const char *s, size_t n, size_t *count, vox_error *err) {
    (void)user;
    (void)err;
    size_t c = 0, wl = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b == ' ' || strchr(".,;:!?", b)) {
            c += b != ' ';
            wl = 0;
            continue;
        }
        if (wl % 8 == 0) c++;
        wl++;
    }
    *count = c;
    return VOX_OK;
}

static int count_tekken(void *user, const char *s, size_t n, size_t *count, vox_error *err) {
    int32_t *ids = NULL;
    int rc = vox_tekken_encode(user, s, n, &ids, count, err);
    free(ids);
    return rc;
}

/* The words of s (split at ASCII spaces), concatenated without separators, with the
 * terminal punctuation the chunks may add removed: for "nothing lost" checks. */
static char *squash(const char *s) {
    size_t n = strlen(s);
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + 2 < n && !memcmp(s + i, "\xe0\xa5\xa4", 3)) { /* the danda a chunk may add */
            i += 2;
            continue;
        }
        if (!strchr(" \n\t.,;:!?", s[i])) o[k++] = s[i];
    }
    o[k] = '\0';
    return o;
}

static int ends_terminal(const char *t) {
    size_t n = strlen(t);
    while (n > 0 && strchr("\"')]", t[n - 1])) n--;
    if (n == 0) return 0;
    if (strchr(".!?", t[n - 1])) return 1;
    static const char *multi[] = {"\xe2\x80\xa6", "\xe0\xa5\xa4", "\xe0\xa5\xa5", "\xd8\x9f",
                                  "\xe3\x80\x82", "\xef\xbc\x81", "\xef\xbc\x9f", "\xe2\x80\x9d",
                                  "\xc2\xbb"};
    for (size_t i = 0; i < sizeof multi / sizeof multi[0]; i++) {
        size_t l = strlen(multi[i]);
        if (n >= l && memcmp(t + n - l, multi[i], l) == 0) return 1;
    }
    return 0;
}

/* Split and check the invariants; returns the chunks (caller frees) or n = 0. */
static voxtts_chunks check_chunks(const char *name, const char *text, vox_lang lang, int budget,
                                  vox_count_tokens_fn fn, void *user) {
    voxtts_chunks ch = {0};
    vox_error err = {0};
    int rc = vox_split_chunks(text, strlen(text), lang, 0, budget, fn, user, &ch, &err);
    CHECK(rc == VOX_OK, "%s: split failed: %s", name, err.msg);
    if (rc) return ch;
    size_t total = 0;
    for (size_t i = 0; i < ch.n; i++) total += strlen(ch.chunk[i].text) + 1;
    char *joined = malloc(total + 1);
    size_t k = 0;
    int over = 0, unterminated = 0, frames_ok = 1, paras_ok = 1;
    for (size_t i = 0; i < ch.n; i++) {
        const voxtts_chunk *c = &ch.chunk[i];
        size_t t = 0;
        fn(user, c->text, strlen(c->text), &t, &err);
        if ((int)t > budget || c->n_tokens != (int)t) over++;
        if (!ends_terminal(c->text)) unterminated++;
        if (c->est_frames != vox_split_estimate_frames(c->n_tokens)) frames_ok = 0;
        if (i == 0 ? !c->paragraph_start || c->paragraph != 0
                   : (c->paragraph_start != (c->paragraph != ch.chunk[i - 1].paragraph)))
            paras_ok = 0;
        if (joined) {
            memcpy(joined + k, c->text, strlen(c->text));
            k += strlen(c->text);
            joined[k++] = ' ';
        }
    }
    CHECK(over == 0, "%s: %d chunks over the budget of %d tokens", name, over, budget);
    CHECK(unterminated == 0, "%s: %d chunks lack terminal punctuation", name, unterminated);
    CHECK(frames_ok, "%s: est_frames is not the documented estimate", name);
    CHECK(paras_ok, "%s: paragraph indices/starts inconsistent", name);
    if (joined) {
        joined[k] = '\0';
        char *a = squash(text), *b = squash(joined);
        CHECK(a && b && strcmp(a, b) == 0, "%s: the chunks do not hold the text's words in order", name);
        free(a);
        free(b);
        free(joined);
    }
    return ch;
}

static void test_chunks_budget(void) {
    /* sentences pack together until the budget; none is cut while it fits */
    const char *text = "One two three. Four five six seven. Eight nine. Ten eleven twelve thirteen fourteen.";
    voxtts_chunks ch = check_chunks("pack", text, VOX_LANG_EN, 8, count_words, NULL);
    CHECK(ch.n == 3, "pack: %zu chunks, want 3", ch.n);
    if (ch.n == 3) {
        CHECK(!strcmp(ch.chunk[0].text, "One two three."), "pack[0] = %s", ch.chunk[0].text);
        CHECK(!strcmp(ch.chunk[1].text, "Four five six seven. Eight nine."), "pack[1] = %s", ch.chunk[1].text);
        CHECK(!strcmp(ch.chunk[2].text, "Ten eleven twelve thirteen fourteen."), "pack[2] = %s", ch.chunk[2].text);
    }
    voxtts_chunks_free(&ch);

    /* a long sentence is cut at commas first, the pieces ending in "." */
    text = "alpha beta gamma delta, epsilon zeta eta theta, iota kappa lambda mu.";
    ch = check_chunks("clauses", text, VOX_LANG_EN, 6, count_words, NULL);
    CHECK(ch.n == 3, "clauses: %zu chunks, want 3", ch.n);
    if (ch.n == 3) {
        CHECK(!strcmp(ch.chunk[0].text, "alpha beta gamma delta."), "clauses[0] = %s", ch.chunk[0].text);
        CHECK(!strcmp(ch.chunk[1].text, "epsilon zeta eta theta."), "clauses[1] = %s", ch.chunk[1].text);
    }
    voxtts_chunks_free(&ch);

    /* paragraphs are never merged; the first chunk of each is marked */
    text = "Short one.\n\nShort two.\n\n\n!!!\n\nShort three.";
    ch = check_chunks("paragraphs", text, VOX_LANG_EN, 100, count_words, NULL);
    CHECK(ch.n == 3, "paragraphs: %zu chunks, want 3 (punctuation-only paragraph dropped)", ch.n);
    if (ch.n == 3)
        CHECK(ch.chunk[2].paragraph == 2 && ch.chunk[2].paragraph_start, "paragraph index %d",
              ch.chunk[2].paragraph);
    voxtts_chunks_free(&ch);

    /* terminal punctuation: appended, trailing comma/colon replaced, Hindi danda */
    text = "no stop here";
    ch = check_chunks("append", text, VOX_LANG_EN, 100, count_words, NULL);
    CHECK(ch.n == 1 && !strcmp(ch.chunk[0].text, "no stop here."), "append: %s", ch.n ? ch.chunk[0].text : "");
    voxtts_chunks_free(&ch);
    ch = check_chunks("colon", "The list follows:", VOX_LANG_EN, 100, count_words, NULL);
    CHECK(ch.n == 1 && !strcmp(ch.chunk[0].text, "The list follows."), "colon: %s", ch.n ? ch.chunk[0].text : "");
    voxtts_chunks_free(&ch);
    ch = check_chunks("quote", "He said \"hello\"", VOX_LANG_EN, 100, count_words, NULL);
    CHECK(ch.n == 1 && !strcmp(ch.chunk[0].text, "He said \"hello\"."), "quote: %s", ch.n ? ch.chunk[0].text : "");
    voxtts_chunks_free(&ch);
    ch = check_chunks("hindi", "मैं घर जा रहा हूँ", VOX_LANG_AUTO, 100, count_words, NULL);
    CHECK(ch.n == 1 && !strcmp(ch.chunk[0].text, "मैं घर जा रहा हूँ।"), "hindi: %s", ch.n ? ch.chunk[0].text : "");
    voxtts_chunks_free(&ch);

    /* punctuation-only sentences join the one before */
    ch = check_chunks("join", "Wait! ... Really?", VOX_LANG_EN, 100, count_words, NULL);
    CHECK(ch.n == 1 && !strcmp(ch.chunk[0].text, "Wait! ... Really?"), "join: %s", ch.n ? ch.chunk[0].text : "");
    voxtts_chunks_free(&ch);
}

static void test_chunks_edge(vox_tekken *tk) {
    vox_error err = {0};
    voxtts_chunks ch = {0};
    /* empty, whitespace only, punctuation only: no chunks, no error */
    const char *empty[3] = {"", " \n\t \n\n  ", "... !!! ?? — ;"};
    for (int i = 0; i < 3; i++) {
        int rc = vox_split_chunks(empty[i], strlen(empty[i]), VOX_LANG_AUTO, 0, 50, count_words, NULL,
                                  &ch, &err);
        CHECK(rc == VOX_OK && ch.n == 0, "empty case %d: rc %d, %zu chunks", i, rc, ch.n);
        voxtts_chunks_free(&ch);
    }
    /* invalid UTF-8: the byte offset is named */
    const char bad[] = "Good text. Bad \xc3\x28 here.";
    int rc = vox_split_chunks(bad, strlen(bad), VOX_LANG_EN, 0, 50, count_words, NULL, &ch, &err);
    CHECK(rc == VOX_E_ARG && strstr(err.msg, "UTF-8") && strstr(err.msg, "offset 15"),
          "invalid UTF-8: rc %d, %s", rc, err.msg);
    const char overlong[] = "A \xc0\xaf.", surrogate[] = "A \xed\xa0\x80.";
    size_t off = 0;
    CHECK(vox_utf8_check(overlong, strlen(overlong), &off, &err) == VOX_E_ARG && off == 2, "overlong at %zu", off);
    CHECK(vox_utf8_check(surrogate, strlen(surrogate), &off, &err) == VOX_E_ARG && off == 2, "surrogate at %zu", off);
    const char trunc[] = "End \xe2\x82";
    CHECK(vox_utf8_check(trunc, strlen(trunc), &off, &err) == VOX_E_ARG && off == 4, "truncated at %zu", off);
    const char nul[] = "A\0B";
    CHECK(vox_utf8_check(nul, 3, &off, &err) == VOX_E_ARG && off == 1 && strstr(err.msg, "NUL"), "NUL: %s", err.msg);
    vox_lang l;
    CHECK(vox_lang_parse("xx", &l, &err) == VOX_E_ARG && strstr(err.msg, "xx"), "bad language: %s", err.msg);
    CHECK(vox_lang_parse("DE", &l, &err) == VOX_OK && l == VOX_LANG_DE, "DE");
    CHECK(vox_lang_parse(NULL, &l, &err) == VOX_OK && l == VOX_LANG_AUTO, "NULL = auto");

    /* a 5000-character sentence without punctuation, with the real tokenizer */
    static const char *words[] = {"river", "stone", "light", "quiet", "morning", "garden", "over", "the"};
    char *big = malloc(6000);
    size_t k = 0;
    for (int i = 0; k < 5000; i++) {
        const char *w = words[(i * 7 + i / 3) % 8];
        memcpy(big + k, w, strlen(w));
        k += strlen(w);
        big[k++] = ' ';
    }
    big[k - 1] = '\0';
    ch = check_chunks("5000-char sentence", big, VOX_LANG_EN, 64, count_tekken, tk);
    CHECK(ch.n >= 5, "5000-char sentence: %zu chunks", ch.n);
    voxtts_chunks_free(&ch);
    /* a 5000-character word: cut between characters */
    for (size_t i = 0; i < 5000; i++) big[i] = (char)('a' + (i * 7) % 26);
    big[5000] = '\0';
    ch = check_chunks("5000-char word", big, VOX_LANG_EN, 64, count_tekken, tk);
    CHECK(ch.n >= 5, "5000-char word: %zu chunks", ch.n);
    voxtts_chunks_free(&ch);
    /* a long word of combining sequences: never cut before a combining mark */
    k = 0;
    for (int i = 0; i < 400; i++) {
        memcpy(big + k, "e\xcc\x81", 3); /* e + combining acute */
        k += 3;
    }
    big[k] = '\0';
    ch = check_chunks("combining", big, VOX_LANG_EN, 20, count_tekken, tk);
    int bad_cut = 0;
    for (size_t i = 0; i < ch.n; i++)
        if ((unsigned char)ch.chunk[i].text[0] == 0xCC) bad_cut++;
    CHECK(ch.n > 1 && bad_cut == 0, "combining: %zu chunks, %d start with a combining mark", ch.n, bad_cut);
    voxtts_chunks_free(&ch);
    free(big);

    /* emoji and mixed scripts survive whole */
    const char *mixed = "I ❤️ Paris 🇫🇷! Привет, мир. مرحبا بالعالم. नमस्ते दुनिया। 你好世界。 Done.";
    ch = check_chunks("mixed", mixed, VOX_LANG_AUTO, 200, count_tekken, tk);
    CHECK(ch.n == 1 && strstr(ch.chunk[0].text, "🇫🇷") && strstr(ch.chunk[0].text, "नमस्ते"),
          "mixed: %zu chunks", ch.n);
    voxtts_chunks_free(&ch);
    ch = check_chunks("mixed small", mixed, VOX_LANG_AUTO, 24, count_tekken, tk);
    CHECK(ch.n > 1, "mixed small: %zu chunks", ch.n);
    voxtts_chunks_free(&ch);
}

/* Random texts built from tricky pieces: no crash (ASan/UBSan), and the chunk
 * invariants hold with and without normalization. */
static void test_fuzz(vox_tekken *tk) {
    static const char *pieces[] = {
        ". ", "Dr.", "\xe2\x80\xa6", "\n\n", "\n", "\xc2\xab", "\xc2\xbb", " ", "  ", "a", "B",
        "word", "Word", "3", ".", "!", "?", "\xe0\xa5\xa4", "\xd8\x9f", "\xc3\xa9", "\xcc\x81",
        "\xf0\x9f\x91\x8d", "-", "--", ",", ";", ":", "http://x.y/z.", "www.a.b", "&amp;", "&#x41;",
        "&#0;", "<b>", "</p>", "```\n", "# ", "- ", "1. ", "e.g.", "\"", "'", "(", ")", "\t",
        "\xe3\x80\x82", "z.B.", "Sig.ra", "\xe0\xa4\xa1\xe0\xa5\x89.", "\xd8\xaf.", "[x](y)", "**",
        "\xe2\x80\x8b", "\r\n", "\f", "...", ". . .", "\xc2\xa0"};
    const size_t np = sizeof pieces / sizeof pieces[0];
    uint64_t st = 12345;
    char buf[2048];
    int bad = 0;
    for (int it = 0; it < 300; it++) {
        size_t k = 0;
        int n = 1 + (int)(st % 120);
        for (int j = 0; j < n; j++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            const char *p = pieces[(st >> 33) % np];
            size_t l = strlen(p);
            if (k + l >= sizeof buf) break;
            memcpy(buf + k, p, l);
            k += l;
        }
        buf[k] = '\0';
        for (int norm = 0; norm < 2; norm++) {
            voxtts_chunks ch = {0};
            vox_error err = {0};
            int budget = 8 + (int)(st >> 60);
            int rc = vox_split_chunks(buf, k, (vox_lang)(it % VOX_LANG_COUNT), norm, budget,
                                      count_tekken, tk, &ch, &err);
            if (rc) bad++;
            for (size_t i = 0; i < ch.n; i++) {
                size_t t = 0;
                count_tekken(tk, ch.chunk[i].text, strlen(ch.chunk[i].text), &t, &err);
                size_t len = strlen(ch.chunk[i].text);
                /* one code point may exceed a tiny budget on its own (documented) */
                if ((int)t > budget && len > 4) bad++;
                if (len == 0 || vox_utf8_check(ch.chunk[i].text, len, NULL, &err)) bad++;
            }
            voxtts_chunks_free(&ch);
        }
    }
    CHECK(bad == 0, "fuzz: %d violations", bad);
}

static void test_budget_rule(void) {
    CHECK(vox_split_token_budget(0, 0) == VOX_SPLIT_DEFAULT_MAX_TOKENS, "default budget");
    CHECK(vox_split_token_budget(0, 2048) == VOX_SPLIT_DEFAULT_MAX_TOKENS, "2048 frames leave the default");
    int b = vox_split_token_budget(0, 600);
    CHECK(b == (600 * 3 / 4 - VOX_SPLIT_FRAMES_BASE) / VOX_SPLIT_FRAMES_PER_TOKEN && b < 120, "600 frames: %d", b);
    CHECK(vox_split_estimate_frames(b) <= 600 * 3 / 4, "estimate of the budget fits 3/4 of the cap");
    CHECK(vox_split_token_budget(0, 8) == VOX_SPLIT_MIN_TOKENS, "floor: %d", vox_split_token_budget(0, 8));
    CHECK(vox_split_token_budget(500, 0) == 500, "explicit max_tokens");
    CHECK(vox_split_token_budget(30, 8) == 30, "explicit small max_tokens under the floor");
    CHECK(vox_split_estimate_frames(10) == 10 * VOX_SPLIT_FRAMES_PER_TOKEN + VOX_SPLIT_FRAMES_BASE, "estimate");
}

int main(void) {
    test_english();
    test_french();
    test_spanish();
    test_german();
    test_italian();
    test_portuguese();
    test_dutch();
    test_arabic();
    test_hindi();
    test_structure();
    test_chunks_budget();
    test_budget_rule();
    const char *path = "tests/models/tiny-a/tekken.json";
    vox_tekken *tk = NULL;
    vox_error err = {0};
    int rc = vox_tekken_load(path, &tk, &err);
    CHECK(rc == VOX_OK, "cannot load %s (run from the repository root): %s", path, err.msg);
    if (rc == VOX_OK) test_chunks_edge(tk);
    if (rc == VOX_OK) test_fuzz(tk);
    vox_tekken_free(tk);
    TEST_MAIN_END();
}
