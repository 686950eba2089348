//! One-line results of the benchmark tools (`wakelat: k=v k=v ...`): found
//! in a program's output by their prefix, read field by field.

use std::str::FromStr;

/// Why a result line could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// No line starts with the prefix.
    #[error("no '{0}' line")]
    NoLine(&'static str),
    /// A field is missing.
    #[error("field {0} missing")]
    Missing(&'static str),
    /// A field's value does not parse.
    #[error("field {field}: bad value '{value}'")]
    BadValue {
        /// The field.
        field: &'static str,
        /// Its text.
        value: String,
    },
}

/// The `key=value` fields of the first line of `output` that starts with
/// `prefix` (leading and trailing blanks ignored).
#[derive(Debug, Clone)]
pub struct ResultLine<'a> {
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> ResultLine<'a> {
    /// Finds the line.
    pub fn find(output: &'a str, prefix: &'static str) -> Result<Self, ParseError> {
        Self::all(output, prefix)
            .next()
            .map(|(_, line)| line)
            .ok_or(ParseError::NoLine(prefix))
    }

    /// Every line of `output` that starts with `prefix`, in order: its text
    /// after the prefix, and its fields.
    pub fn all(
        output: &'a str,
        prefix: &'static str,
    ) -> impl Iterator<Item = (&'a str, Self)> + 'a {
        output
            .lines()
            .map(str::trim)
            .filter_map(move |l| l.strip_prefix(prefix))
            .map(|rest| {
                let fields = rest
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .collect();
                (rest, ResultLine { fields })
            })
    }

    /// The value of field `name`, parsed.
    pub fn get<T: FromStr>(&self, name: &'static str) -> Result<T, ParseError> {
        let v = self
            .fields
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .ok_or(ParseError::Missing(name))?;
        v.parse().map_err(|_| ParseError::BadValue {
            field: name,
            value: v.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_reads_fields() {
        let out = "x: a=1\n  x: a=2 b=3.5 c=z\n";
        let l = ResultLine::find(out, "x:").expect("line");
        assert_eq!(l.get::<u64>("a"), Ok(1));
        let l = ResultLine::find("y: a=2 b=3.5 c=z", "y:").expect("line");
        assert_eq!(l.get::<f64>("b"), Ok(3.5));
        assert_eq!(l.get::<u64>("d"), Err(ParseError::Missing("d")));
        assert!(matches!(
            l.get::<u64>("c"),
            Err(ParseError::BadValue { field: "c", .. })
        ));
        assert_eq!(
            ResultLine::find("", "z:").err(),
            Some(ParseError::NoLine("z:"))
        );
    }
}
