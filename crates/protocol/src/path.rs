//! Where an attribute path (`userName`, `name.givenName`, `emails.value`,
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`)
//! points in a resource, resolved against the schema once, so filters, PATCH
//! and attribute selection agree on what a path means.

use scim_v2::filter::AttrPath;
use serde_json::{Map, Value};

use crate::schema::{Attribute, Kind, Schema, common};

/// Which object of the resource holds an attribute.
#[derive(Debug, Clone, Copy)]
pub enum Container {
    /// The resource itself (core and common attributes).
    Core,
    /// The object under the extension's URN.
    Ext(&'static Schema),
}

impl Container {
    /// The object that holds the attributes, if the resource has it.
    pub fn get(self, resource: &Map<String, Value>) -> Option<&Map<String, Value>> {
        match self {
            Container::Core => Some(resource),
            Container::Ext(s) => resource.get(s.id).and_then(Value::as_object),
        }
    }

    /// The object that holds the attributes, created when missing.
    pub fn get_mut(self, resource: &mut Map<String, Value>) -> &mut Map<String, Value> {
        match self {
            Container::Core => resource,
            Container::Ext(s) => {
                let slot = resource
                    .entry(s.id)
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                match slot {
                    Value::Object(m) => m,
                    // Made an object just above.
                    _ => unreachable!("the extension slot is an object"),
                }
            }
        }
    }
}

/// An attribute, or one of its sub-attributes.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub container: Container,
    pub attr: &'static Attribute,
    pub sub: Option<&'static Attribute>,
}

impl Target {
    /// The attribute the path ends at (the sub-attribute when there is one).
    pub fn leaf(&self) -> &'static Attribute {
        self.sub.unwrap_or(self.attr)
    }

    /// The path as the answer would spell it.
    pub fn display(&self) -> String {
        let mut out = match self.container {
            Container::Core => String::new(),
            Container::Ext(s) => format!("{}:", s.id),
        };
        out.push_str(self.attr.name);
        if let Some(sub) = self.sub {
            out.push('.');
            out.push_str(sub.name);
        }
        out
    }
}

/// What a path resolves to.
#[derive(Debug, Clone, Copy)]
pub enum Resolved {
    Attr(Target),
    /// A bare extension URN: the whole extension object.
    Extension(&'static Schema),
}

/// Resolves `path` for a resource of `kind`; the error says why it names nothing.
pub fn resolve(kind: Kind, path: &AttrPath) -> Result<Resolved, String> {
    let (container, schema) = match path.uri.as_deref() {
        None => (Container::Core, kind.core()),
        Some(uri) if kind.core().is(uri) => (Container::Core, kind.core()),
        Some(uri) => match kind.extension(uri) {
            Some(ext) => (Container::Ext(ext), ext),
            None => {
                let whole = format!("{uri}:{}", path.name);
                return match kind.extension(&whole) {
                    Some(ext) if path.sub_attr.is_none() => Ok(Resolved::Extension(ext)),
                    _ => Err(format!(
                        "{uri} is not a schema of a {} (see /Schemas)",
                        kind.name()
                    )),
                };
            }
        },
    };
    let attr = match container {
        Container::Core => common::attribute(&path.name).or_else(|| schema.attribute(&path.name)),
        Container::Ext(_) => schema.attribute(&path.name),
    }
    .ok_or_else(|| {
        format!(
            "{} is not an attribute of {} (see /Schemas)",
            path.name, schema.id
        )
    })?;
    let sub = match path.sub_attr.as_deref() {
        None => None,
        Some(name) => Some(attr.sub(name).ok_or_else(|| {
            if attr.is_complex() {
                format!("{} has no sub-attribute {name}", attr.name)
            } else {
                format!("{} has no sub-attributes", attr.name)
            }
        })?),
    };
    Ok(Resolved::Attr(Target {
        container,
        attr,
        sub,
    }))
}

/// Parses and resolves an attribute path given as text (`attributes=`,
/// the keys of a PATCH value without `path`).
pub fn resolve_text(kind: Kind, text: &str) -> Result<Resolved, String> {
    let text = text.trim();
    if text.is_empty() || text.len() > crate::limits::MAX_PATH_BYTES {
        return Err(format!(
            "an attribute path must have 1 to {} characters",
            crate::limits::MAX_PATH_BYTES
        ));
    }
    // A bare extension URN is not an attribute path to the grammar, but it
    // names the extension's object.
    if let Some(ext) = kind.extension(text) {
        return Ok(Resolved::Extension(ext));
    }
    let parsed: scim_v2::filter::PatchPath = text
        .parse()
        .map_err(|e| format!("{text:?} is not an attribute path: {e}"))?;
    match parsed {
        scim_v2::filter::PatchPath::Attr(p) => resolve(kind, &p),
        scim_v2::filter::PatchPath::Value(_) => Err(format!(
            "{text:?} has a filter; only a plain attribute path is allowed here"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ENTERPRISE_URN;

    fn target(kind: Kind, text: &str) -> Target {
        match resolve_text(kind, text).unwrap() {
            Resolved::Attr(t) => t,
            Resolved::Extension(_) => panic!("{text} is an extension"),
        }
    }

    #[test]
    fn paths_resolve_in_any_case_and_with_schema_urns() {
        assert_eq!(target(Kind::User, "USERNAME").display(), "userName");
        assert_eq!(
            target(Kind::User, "name.GivenName").display(),
            "name.givenName"
        );
        assert_eq!(
            target(
                Kind::User,
                "urn:ietf:params:scim:schemas:core:2.0:User:emails.value"
            )
            .display(),
            "emails.value"
        );
        let manager = target(Kind::User, &format!("{ENTERPRISE_URN}:manager.value"));
        assert_eq!(manager.display(), format!("{ENTERPRISE_URN}:manager.value"));
        assert!(matches!(
            resolve_text(Kind::User, ENTERPRISE_URN),
            Ok(Resolved::Extension(_))
        ));
        assert_eq!(target(Kind::Group, "externalId").display(), "externalId");
    }

    #[test]
    fn unknown_names_are_refused_with_the_reason() {
        assert!(
            resolve_text(Kind::User, "department")
                .unwrap_err()
                .contains("not an attribute")
        );
        assert!(resolve_text(Kind::Group, ENTERPRISE_URN).is_err());
        assert!(
            resolve_text(Kind::User, "userName.x")
                .unwrap_err()
                .contains("no sub-attributes")
        );
        assert!(
            resolve_text(Kind::User, "urn:x:y:User:z")
                .unwrap_err()
                .contains("not a schema")
        );
        assert!(resolve_text(Kind::User, &"a".repeat(5000)).is_err());
        assert!(resolve_text(Kind::User, "emails[type eq \"work\"]").is_err());
    }
}
