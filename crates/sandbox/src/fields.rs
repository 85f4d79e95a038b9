//! Meta's `fields` selection syntax (`a,b{c,d},e.limit(5)`), parsed once
//! for every node and edge.

use crate::errors::GraphError;

/// Meta's `fields` syntax: `a,b{c,d},e.limit(5)`, with modifiers kept by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fields(Vec<Field>);

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    pub name: String,
    pub sub: Option<Fields>,
    /// `(name, arguments)` of `.name(arguments)`, e.g. `("metric", "reach,views")`.
    pub modifiers: Vec<(String, String)>,
}

impl Field {
    pub fn modifier(&self, name: &str) -> Option<&str> {
        self.modifiers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl Fields {
    pub fn parse(input: &str) -> Result<Fields, GraphError> {
        let mut chars = input.chars().peekable();
        let fields = parse_list(&mut chars, 0)?;
        if chars.next().is_some() {
            return Err(syntax_error(input));
        }
        Ok(fields)
    }

    pub(crate) fn of(names: &[&str]) -> Fields {
        Fields(
            names
                .iter()
                .map(|n| Field {
                    name: n.to_string(),
                    sub: None,
                    modifiers: Vec::new(),
                })
                .collect(),
        )
    }

    pub fn iter(&self) -> impl Iterator<Item = &Field> {
        self.0.iter()
    }

    /// The requested fields, or `default` when none were asked for.
    pub fn iter_or(&self, default: &[&str]) -> Vec<Field> {
        if self.0.is_empty() {
            Fields::of(default).0
        } else {
            self.0.clone()
        }
    }

    pub(crate) fn names_or<'a>(&'a self, default: &'a [&'a str]) -> Vec<&'a str> {
        if self.0.is_empty() {
            default.to_vec()
        } else {
            self.0.iter().map(|f| f.name.as_str()).collect()
        }
    }
}

fn syntax_error(input: &str) -> GraphError {
    GraphError::new(
        2500,
        format!("Syntax error \"Expected end of string\" in fields: {input}"),
    )
}

/// Deeper `{...}` nesting than any real request needs is refused, so hostile
/// input cannot exhaust the stack.
const MAX_FIELD_DEPTH: usize = 8;

fn parse_list(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, depth: usize) -> Result<Fields, GraphError> {
    if depth > MAX_FIELD_DEPTH {
        return Err(syntax_error("fields nested too deeply"));
    }
    let mut fields = Vec::new();
    let mut name = String::new();
    let mut sub = None;
    let mut modifiers = Vec::new();
    let mut args = String::new();
    let mut in_modifier = 0usize;
    while let Some(&c) = chars.peek() {
        if c == '}' && depth > 0 && in_modifier == 0 {
            break;
        }
        chars.next();
        match c {
            '(' => {
                if in_modifier > 0 {
                    args.push(c);
                }
                in_modifier += 1;
            }
            ')' if in_modifier > 0 => {
                in_modifier -= 1;
                if in_modifier == 0 {
                    // `e.metric(a,b)`: the modifier is the segment before `(`.
                    let modifier = name.rsplit('.').next().unwrap_or("").trim().to_string();
                    modifiers.push((modifier, std::mem::take(&mut args)));
                } else {
                    args.push(c);
                }
            }
            ')' => {}
            _ if in_modifier > 0 => args.push(c),
            '{' => {
                sub = Some(parse_list(chars, depth + 1)?);
                if chars.next() != Some('}') {
                    return Err(syntax_error("unbalanced braces"));
                }
            }
            ',' => push_field(&mut fields, &mut name, &mut sub, &mut modifiers),
            _ => name.push(c),
        }
    }
    push_field(&mut fields, &mut name, &mut sub, &mut modifiers);
    Ok(Fields(fields))
}

fn push_field(
    fields: &mut Vec<Field>,
    name: &mut String,
    sub: &mut Option<Fields>,
    modifiers: &mut Vec<(String, String)>,
) {
    // `e.limit(5)` is field `e` with a modifier.
    let clean = name.split('.').next().unwrap_or("").trim().to_string();
    if !clean.is_empty() {
        fields.push(Field {
            name: clean,
            sub: sub.take(),
            modifiers: std::mem::take(modifiers),
        });
    }
    name.clear();
    modifiers.clear();
    *sub = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_with_nesting_and_modifiers() {
        let fields =
            Fields::parse("id, name,instagram_business_account{id,username},photos.limit(5)").unwrap_or_default();
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "name", "instagram_business_account", "photos"]);
        let sub = fields.0[2].sub.clone().unwrap_or_default();
        assert_eq!(sub, Fields::of(&["id", "username"]));
        assert_eq!(Fields::parse("").unwrap_or_default(), Fields::default());
        assert!(Fields::parse("a{b").is_err());
        let media = Fields::parse("id,insights.metric(reach,views).period(lifetime),children{id}").unwrap_or_default();
        assert_eq!(media.0[1].name, "insights");
        assert_eq!(media.0[1].modifier("metric"), Some("reach,views"));
        assert_eq!(media.0[1].modifier("period"), Some("lifetime"));
        assert_eq!(media.0[2].sub, Some(Fields::of(&["id"])));
    }
}
