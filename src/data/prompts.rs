//! Next-word prompts (task 2) from the New York Times editorial snippets shipped with
//! vaderSentiment (method §6), our stand-in for the paper's SQuAD passages.
//!
//! File format: `docid_k TAB rating TAB sentence` per line, the sentences of one editorial
//! numbered k = 1, 2, …. A document is its sentences joined by one space in order; a prompt is the
//! first [`DEFAULT_PROMPT_WORDS`] whitespace-separated words of a document (the paper: the first 30
//! words of a passage, the model predicting word 31), joined by single spaces. Documents with fewer
//! words give no prompt. Prompts are ordered by a seeded shuffle (ChaCha8, our own Fisher–Yates).

use std::path::{Path, PathBuf};

use rand::{RngCore, SeedableRng};

use crate::models::{assets, ModelError};
use crate::{Error, Result};

/// File name of the editorial snippets in the asset cache.
pub const NYT_FILE: &str = "nytEditorialSnippets_GroundTruth.txt";
/// Words per prompt (the paper's 30).
pub const DEFAULT_PROMPT_WORDS: usize = 30;

/// A prompt and where it comes from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prompt {
    /// `nyt-<document id>`.
    pub id: String,
    pub text: String,
}

/// The cached nytEditorialSnippets_GroundTruth.txt.
pub fn nyt_path() -> PathBuf {
    assets::sentences_dir().join(NYT_FILE)
}

/// Documents of a snippet file, in file order: (document id, sentences joined by spaces).
pub fn parse_documents(text: &str, source: &Path) -> Result<Vec<(String, String)>> {
    let mut docs: Vec<(String, String)> = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut cols = line.splitn(3, '\t');
        let (Some(id), Some(_), Some(sentence)) = (cols.next(), cols.next(), cols.next()) else {
            return Err(Error::BadFile {
                path: source.to_path_buf(),
                why: format!("line {}: expected `docid_k TAB rating TAB sentence`", i + 1),
            });
        };
        let doc = id.split('_').next().unwrap_or(id).to_string();
        match docs.last_mut() {
            Some((d, t)) if *d == doc => {
                t.push(' ');
                t.push_str(sentence.trim());
            }
            _ => docs.push((doc, sentence.trim().to_string())),
        }
    }
    Ok(docs)
}

/// The first `words` words of every document that has that many, in file order.
pub fn prompts_from_documents(docs: &[(String, String)], words: usize) -> Vec<Prompt> {
    docs.iter()
        .filter_map(|(id, text)| {
            let w: Vec<&str> = text.split_whitespace().take(words).collect();
            (words > 0 && w.len() == words).then(|| Prompt {
                id: format!("nyt-{id}"),
                text: w.join(" "),
            })
        })
        .collect()
}

/// Prompts of `words` words from the cached NYT snippets, shuffled with `seed`.
pub fn nyt_prompts(words: usize, seed: u64) -> Result<Vec<Prompt>> {
    let path = nyt_path();
    ModelError::require_file(&path, assets::FETCH_HINT)?;
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut prompts = prompts_from_documents(&parse_documents(&text, &path)?, words);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for i in (1..prompts.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        prompts.swap(i, j);
    }
    Ok(prompts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_join_their_sentences_and_prompts_take_the_first_words() {
        let text = "1_1\t0.4\tOne two three.\r\n1_2\t0\tFour five\r\n2_1\t1\tSix\r\n\r\n";
        let docs = parse_documents(text, Path::new("x")).unwrap();
        assert_eq!(
            docs,
            vec![
                ("1".to_string(), "One two three. Four five".to_string()),
                ("2".to_string(), "Six".to_string())
            ]
        );
        let p = prompts_from_documents(&docs, 4);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].text, "One two three. Four");
        assert_eq!(p[0].id, "nyt-1");
        assert!(parse_documents("no tabs here", Path::new("x")).is_err());
    }
}
