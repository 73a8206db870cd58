// Package classify suggests what a piece of text or a domain name is about (sexual content,
// self-harm, violence, gambling, scams, hate and bullying, grooming cues) for the hotline and
// the scanner. It only suggests: every score comes with the reasons that produced it (the
// lexicon entry or rule, the words, the model's strongest features) so an analyst can judge,
// and nothing in this package acts on its own.
//
// Text is normalised first (NFC, lower case, invisible characters removed, leetspeak,
// repeated letters, Vietnamese teencode) and matched syllable by syllable, so "khong",
// "không", "ko" and "k0ng" are the same word, without a word segmenter. Hate and bullying
// is also scored by a small logistic-regression model trained offline on ViHOS (see
// model/NOTICE.md); every other category is lexicon and rule based.
package classify
