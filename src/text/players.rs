//! Word-level players of a sentence (method §1): a player is a word, and masking it masks every token
//! that encodes it.
//!
//! Words are defined on the sentence itself, by byte and character offsets, independently of any
//! model: the text is split at whitespace, and every punctuation character is a word of its own
//! (BERT's basic tokenizer does the same, so "don't" gives `don`, `'`, `t`). Each model then maps
//! the selected words onto its own tokenization through the token offsets its tokenizer reports
//! ([`Players::token_sets`]); decoded text is never tokenized again, so models with different
//! vocabularies see the same players.
//!
//! Selection ([`PlayerSelection`]): by default n words are drawn at random, with a seed, among the
//! content words (words that are not in the NLTK English stop-word list, compared in lower case,
//! and that hold at least one letter or digit), then kept in sentence order, so player i is the
//! i-th selected word from the left. Words can also be given explicitly, as strings or as indices
//! into [`split_words`].

use std::ops::Range;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::coalition::{Coalition, MAX_PLAYERS};
use crate::models::tokenizer::Encoded;
use crate::{Error, Result};

/// NLTK's English stop-word list (179 words, `nltk.corpus.stopwords.words("english")`), the list
/// the paper's "stop words skipped" most likely refers to.
pub const STOP_WORDS: [&str; 179] = [
    "i",
    "me",
    "my",
    "myself",
    "we",
    "our",
    "ours",
    "ourselves",
    "you",
    "you're",
    "you've",
    "you'll",
    "you'd",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "he",
    "him",
    "his",
    "himself",
    "she",
    "she's",
    "her",
    "hers",
    "herself",
    "it",
    "it's",
    "its",
    "itself",
    "they",
    "them",
    "their",
    "theirs",
    "themselves",
    "what",
    "which",
    "who",
    "whom",
    "this",
    "that",
    "that'll",
    "these",
    "those",
    "am",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "having",
    "do",
    "does",
    "did",
    "doing",
    "a",
    "an",
    "the",
    "and",
    "but",
    "if",
    "or",
    "because",
    "as",
    "until",
    "while",
    "of",
    "at",
    "by",
    "for",
    "with",
    "about",
    "against",
    "between",
    "into",
    "through",
    "during",
    "before",
    "after",
    "above",
    "below",
    "to",
    "from",
    "up",
    "down",
    "in",
    "out",
    "on",
    "off",
    "over",
    "under",
    "again",
    "further",
    "then",
    "once",
    "here",
    "there",
    "when",
    "where",
    "why",
    "how",
    "all",
    "any",
    "both",
    "each",
    "few",
    "more",
    "most",
    "other",
    "some",
    "such",
    "no",
    "nor",
    "not",
    "only",
    "own",
    "same",
    "so",
    "than",
    "too",
    "very",
    "s",
    "t",
    "can",
    "will",
    "just",
    "don",
    "don't",
    "should",
    "should've",
    "now",
    "d",
    "ll",
    "m",
    "o",
    "re",
    "ve",
    "y",
    "ain",
    "aren",
    "aren't",
    "couldn",
    "couldn't",
    "didn",
    "didn't",
    "doesn",
    "doesn't",
    "hadn",
    "hadn't",
    "hasn",
    "hasn't",
    "haven",
    "haven't",
    "isn",
    "isn't",
    "ma",
    "mightn",
    "mightn't",
    "mustn",
    "mustn't",
    "needn",
    "needn't",
    "shan",
    "shan't",
    "shouldn",
    "shouldn't",
    "wasn",
    "wasn't",
    "weren",
    "weren't",
    "won",
    "won't",
    "wouldn",
    "wouldn't",
];

/// Default number of players per sentence (the paper's 10).
pub const DEFAULT_PLAYERS: usize = 10;

/// A word of a sentence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Word {
    /// Position among all words of the sentence ([`split_words`]), punctuation included.
    pub index: usize,
    pub text: String,
    /// Byte range in the sentence.
    pub bytes: Range<usize>,
    /// Character (Unicode scalar) range in the sentence, for consumers that index by character.
    pub chars: Range<usize>,
}

impl Word {
    /// Neither a stop word nor punctuation: a candidate for seeded selection.
    pub fn is_content(&self) -> bool {
        is_content_word(&self.text)
    }
}

/// Punctuation as BERT's basic tokenizer sees it: ASCII punctuation and the common Unicode
/// punctuation blocks (general punctuation, CJK symbols, Latin-1 marks).
pub fn is_punctuation_char(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '\u{00A1}'
                | '\u{00A7}'
                | '\u{00AB}'
                | '\u{00B6}'
                | '\u{00B7}'
                | '\u{00BB}'
                | '\u{00BF}'
        )
        || ('\u{2010}'..='\u{2027}').contains(&c)
        || ('\u{2030}'..='\u{205E}').contains(&c)
        || ('\u{3001}'..='\u{3003}').contains(&c)
        || ('\u{3008}'..='\u{3011}').contains(&c)
        || ('\u{FF01}'..='\u{FF0F}').contains(&c)
}

/// Whether `word` is in [`STOP_WORDS`] (case-insensitive; a typographic apostrophe counts as ').
pub fn is_stop_word(word: &str) -> bool {
    let w = word.to_lowercase().replace('\u{2019}', "'");
    STOP_WORDS.contains(&w.as_str())
}

/// A word with a letter or digit that is not a stop word.
pub fn is_content_word(word: &str) -> bool {
    word.chars().any(char::is_alphanumeric) && !is_stop_word(word)
}

/// Split a sentence into words: whitespace separates words and every punctuation character is a
/// word of its own.
pub fn split_words(sentence: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (byte, char) of the current word
    let push = |words: &mut Vec<Word>, b0: usize, c0: usize, b1: usize, c1: usize| {
        words.push(Word {
            index: words.len(),
            text: sentence[b0..b1].to_string(),
            bytes: b0..b1,
            chars: c0..c1,
        });
    };
    let mut char_pos = 0;
    for (byte, c) in sentence.char_indices() {
        if c.is_whitespace() || is_punctuation_char(c) {
            if let Some((b0, c0)) = start.take() {
                push(&mut words, b0, c0, byte, char_pos);
            }
            if !c.is_whitespace() {
                push(
                    &mut words,
                    byte,
                    char_pos,
                    byte + c.len_utf8(),
                    char_pos + 1,
                );
            }
        } else if start.is_none() {
            start = Some((byte, char_pos));
        }
        char_pos += 1;
    }
    if let Some((b0, c0)) = start {
        push(&mut words, b0, c0, sentence.len(), char_pos);
    }
    words
}

/// How the players of a sentence are chosen.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlayerSelection {
    /// n content words drawn with a seeded ChaCha8 generator, kept in sentence order.
    Seeded { n: usize, seed: u64 },
    /// These words (case-insensitive; each takes the leftmost occurrence not already taken).
    Words(Vec<String>),
    /// These indices into [`split_words`] (punctuation counts).
    Indices(Vec<usize>),
}

impl Default for PlayerSelection {
    fn default() -> Self {
        PlayerSelection::Seeded {
            n: DEFAULT_PLAYERS,
            seed: 0,
        }
    }
}

/// The players of one sentence: selected words, in sentence order (player i = `words[i]`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Players {
    pub sentence: String,
    pub words: Vec<Word>,
}

/// A uniform draw from 0..bound (bound ≥ 1) by rejection, so that the selection depends only on
/// the ChaCha8 stream and not on a rand version's sampling algorithm.
fn below(rng: &mut ChaCha8Rng, bound: usize) -> usize {
    let bound = bound as u64;
    let zone = u64::MAX - (u64::MAX % bound);
    loop {
        let x = rng.next_u64();
        if x < zone {
            return (x % bound) as usize;
        }
    }
}

fn listing(words: &[Word]) -> String {
    let shown: Vec<String> = words
        .iter()
        .map(|w| format!("{}:{:?}", w.index, w.text))
        .collect();
    shown.join(" ")
}

fn check_count(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::InvalidPlayers(
            "n = 0 players: select at least one player".into(),
        ));
    }
    if n > MAX_PLAYERS {
        return Err(Error::TooManyPlayers {
            n,
            max: MAX_PLAYERS,
        });
    }
    Ok(())
}

impl Players {
    /// Select the players of `sentence`.
    pub fn select(sentence: &str, selection: &PlayerSelection) -> Result<Players> {
        let all = split_words(sentence);
        if all.is_empty() {
            return Err(Error::Invalid(
                "the sentence is empty (no words): give a sentence with at least as many content words as players".into(),
            ));
        }
        let mut chosen: Vec<usize> = match selection {
            PlayerSelection::Seeded { n, seed } => {
                check_count(*n)?;
                let mut candidates: Vec<usize> = all
                    .iter()
                    .filter(|w| w.is_content())
                    .map(|w| w.index)
                    .collect();
                if candidates.len() < *n {
                    return Err(Error::InvalidPlayers(format!(
                        "the sentence has {} content words (not stop words or punctuation) but {n} players were asked for: \
                         select at most {} players, or give the players explicitly as words or indices",
                        candidates.len(),
                        candidates.len()
                    )));
                }
                // partial Fisher-Yates: the first n slots become a uniform random n-subset
                let mut rng = ChaCha8Rng::seed_from_u64(*seed);
                for i in 0..*n {
                    let j = i + below(&mut rng, candidates.len() - i);
                    candidates.swap(i, j);
                }
                candidates.truncate(*n);
                candidates
            }
            PlayerSelection::Words(wanted) => {
                check_count(wanted.len())?;
                let mut taken = vec![false; all.len()];
                let mut out = Vec::with_capacity(wanted.len());
                for w in wanted {
                    let key = w.trim().to_lowercase();
                    let hit = all
                        .iter()
                        .position(|x| !taken[x.index] && x.text.to_lowercase() == key);
                    match hit {
                        Some(i) => {
                            taken[i] = true;
                            out.push(i);
                        }
                        None => {
                            let again = all.iter().any(|x| x.text.to_lowercase() == key);
                            let why = if again {
                                "is given more times than it occurs in"
                            } else {
                                "is not a word of"
                            };
                            return Err(Error::InvalidPlayers(format!(
                                "player {w:?} {why} the sentence; words are split at whitespace and punctuation: {}",
                                listing(&all)
                            )));
                        }
                    }
                }
                out
            }
            PlayerSelection::Indices(idx) => {
                check_count(idx.len())?;
                let mut seen = vec![false; all.len()];
                for &i in idx {
                    if i >= all.len() {
                        return Err(Error::InvalidPlayers(format!(
                            "word index {i} is out of range: the sentence has {} words (0..{}): {}",
                            all.len(),
                            all.len() - 1,
                            listing(&all)
                        )));
                    }
                    if std::mem::replace(&mut seen[i], true) {
                        return Err(Error::InvalidPlayers(format!(
                            "word index {i} ({:?}) is given twice: every player must be a different word",
                            all[i].text
                        )));
                    }
                }
                idx.clone()
            }
        };
        chosen.sort_unstable();
        Ok(Players {
            sentence: sentence.to_string(),
            words: chosen.iter().map(|&i| all[i].clone()).collect(),
        })
    }

    /// Number of players n.
    pub fn n(&self) -> usize {
        self.words.len()
    }

    /// The player words, player 0 first.
    pub fn names(&self) -> Vec<String> {
        self.words.iter().map(|w| w.text.clone()).collect()
    }

    /// A coalition written with words, e.g. `{black, dog}`.
    pub fn label(&self, coalition: Coalition) -> String {
        coalition.display_with(&self.names()).to_string()
    }

    /// The words of a coalition.
    pub fn words_of(&self, coalition: Coalition) -> Vec<String> {
        coalition
            .players()
            .filter_map(|p| self.words.get(p).map(|w| w.text.clone()))
            .collect()
    }

    /// For each player, the indices of the tokens of `enc` (an encoding of this sentence by one
    /// model's tokenizer) whose character span overlaps the word. Special tokens never belong to a
    /// player. Fails when a word has no token (the tokenizer dropped it) or when one token would
    /// belong to two players (the tokenizer merged two selected words).
    pub fn token_sets(&self, enc: &Encoded) -> Result<Vec<Vec<usize>>> {
        let mut owner: Vec<Option<usize>> = vec![None; enc.len()];
        let mut sets = Vec::with_capacity(self.n());
        for (p, w) in self.words.iter().enumerate() {
            let mut set = Vec::new();
            for (t, r) in enc.offsets.iter().enumerate() {
                let special = enc.special.get(t).copied().unwrap_or(false);
                if special || r.is_empty() || r.start >= w.bytes.end || r.end <= w.bytes.start {
                    continue;
                }
                if let Some(q) = owner[t] {
                    return Err(Error::InvalidPlayers(format!(
                        "players {:?} and {:?} share the token {:?}: this tokenizer does not separate them; choose other players",
                        self.words[q].text, w.text, enc.tokens.get(t).map(String::as_str).unwrap_or("?")
                    )));
                }
                owner[t] = Some(p);
                set.push(t);
            }
            if set.is_empty() {
                return Err(Error::InvalidPlayers(format!(
                    "player {:?} (bytes {:?}) has no token in this model's tokenization (the tokenizer drops it): choose another word",
                    w.text, w.bytes
                )));
            }
            sets.push(set);
        }
        Ok(sets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_word_list_has_179_distinct_words() {
        let mut w = STOP_WORDS.to_vec();
        w.sort_unstable();
        w.dedup();
        assert_eq!(w.len(), 179);
        assert!(is_stop_word("The") && is_stop_word("don\u{2019}t") && !is_stop_word("dog"));
    }

    #[test]
    fn split_separates_punctuation_and_tracks_offsets() {
        let s = "Élan, don't stop!";
        let w = split_words(s);
        let texts: Vec<_> = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["Élan", ",", "don", "'", "t", "stop", "!"]);
        assert_eq!(w[0].bytes, 0..5);
        assert_eq!(w[0].chars, 0..4);
        assert_eq!(w[5].chars, 12..16);
        assert_eq!(&s[w[5].bytes.clone()], "stop");
        assert!(split_words("  \t ").is_empty());
    }

    #[test]
    fn seeded_selection_is_reproducible_and_skips_stop_words() {
        let s = "The black dog runs quickly across the green field, and it barks at a small cat.";
        let sel = PlayerSelection::Seeded { n: 5, seed: 3 };
        let a = Players::select(s, &sel).unwrap();
        assert_eq!(a, Players::select(s, &sel).unwrap());
        assert_eq!(a.n(), 5);
        assert!(a.words.iter().all(|w| w.is_content()));
        assert!(a.words.windows(2).all(|p| p[0].index < p[1].index));
        // all ten content words: every seed selects them all, in sentence order
        let all = Players::select(s, &PlayerSelection::Seeded { n: 10, seed: 1 }).unwrap();
        let expect = [
            "black", "dog", "runs", "quickly", "across", "green", "field", "barks", "small", "cat",
        ];
        assert_eq!(all.names(), expect);
    }

    /// An encoding as a tokenizer would report it: (token, byte range), specials as `None`.
    fn encoding(tokens: &[(&str, Option<Range<usize>>)]) -> Encoded {
        Encoded {
            ids: (0..tokens.len() as u32).collect(),
            tokens: tokens.iter().map(|(t, _)| t.to_string()).collect(),
            offsets: tokens
                .iter()
                .map(|(_, r)| r.clone().unwrap_or(0..0))
                .collect(),
            special: tokens.iter().map(|(_, r)| r.is_none()).collect(),
            words: Vec::new(),
        }
    }

    #[test]
    fn players_map_onto_each_tokenization_by_offsets() {
        let s = "Gorgeous film, don't miss";
        let p = Players::select(
            s,
            &PlayerSelection::Words(vec!["gorgeous".into(), "film".into(), "miss".into()]),
        )
        .unwrap();
        // WordPiece-like: "gorgeous" in two pieces
        let a = encoding(&[
            ("[CLS]", None),
            ("gorge", Some(0..5)),
            ("##ous", Some(5..8)),
            ("film", Some(9..13)),
            (",", Some(13..14)),
            ("don", Some(15..18)),
            ("'", Some(18..19)),
            ("t", Some(19..20)),
            ("miss", Some(21..25)),
            ("[SEP]", None),
        ]);
        assert_eq!(
            p.token_sets(&a).unwrap(),
            vec![vec![1, 2], vec![3], vec![8]]
        );
        // SentencePiece-like: one token per word, the space folded into the next token
        let b = encoding(&[
            ("▁Gorgeous", Some(0..8)),
            ("▁film", Some(8..13)),
            (",", Some(13..14)),
            ("▁don't", Some(14..20)),
            ("▁miss", Some(20..25)),
        ]);
        assert_eq!(p.token_sets(&b).unwrap(), vec![vec![0], vec![1], vec![4]]);
        // a token covering two selected words, or a word with no token, is an error
        let both =
            Players::select(s, &PlayerSelection::Words(vec!["don".into(), "t".into()])).unwrap();
        assert!(both
            .token_sets(&b)
            .unwrap_err()
            .to_string()
            .contains("share the token"));
        let dropped = encoding(&[("[CLS]", None), ("gorgeous", Some(0..8)), ("[SEP]", None)]);
        assert!(p
            .token_sets(&dropped)
            .unwrap_err()
            .to_string()
            .contains("no token"));
    }

    #[test]
    fn explicit_players_and_errors() {
        let s = "Good food, good friends.";
        let p = Players::select(
            s,
            &PlayerSelection::Words(vec!["friends".into(), "good".into(), "GOOD".into()]),
        )
        .unwrap();
        assert_eq!(p.names(), ["Good", "good", "friends"]);
        assert_eq!(p.label(Coalition::from_players(&[0, 2])), "{Good, friends}");
        let p = Players::select(s, &PlayerSelection::Indices(vec![3, 1])).unwrap();
        assert_eq!(p.names(), ["food", "good"]);
        let err = |sel| Players::select(s, &sel).unwrap_err().to_string();
        assert!(err(PlayerSelection::Words(vec!["cat".into()])).contains("not a word"));
        assert!(
            err(PlayerSelection::Words(vec!["food".into(), "food".into()])).contains("more times")
        );
        assert!(err(PlayerSelection::Indices(vec![1, 1])).contains("twice"));
        assert!(err(PlayerSelection::Indices(vec![9])).contains("out of range"));
        assert!(err(PlayerSelection::Seeded { n: 5, seed: 0 }).contains("select at most 4"));
        assert!(err(PlayerSelection::Seeded { n: 0, seed: 0 }).contains("at least one"));
        assert!(Players::select(" ", &PlayerSelection::default())
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }
}
