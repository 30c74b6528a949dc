//! Cheap, clonable identifiers. A route id is the unit that health, metrics,
//! headers and decision records all refer to.

use std::fmt;
use std::sync::Arc;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a name; clones afterwards are a reference-count bump.
            pub fn new(name: &str) -> Self {
                Self(Arc::from(name))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::new(&s))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::new(s)
            }
        }

        // Hashes and compares as its text, so maps keyed by it are looked
        // up by `&str`.
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// One upstream target: provider + upstream model + region.
    RouteId
);
id_type!(
    /// A configured provider (an endpoint plus credentials).
    ProviderName
);
id_type!(
    /// A virtual model name that clients ask for.
    AliasName
);

/// A route's position in the configuration's route list, which every
/// per-route table (the policy's candidates, the runtime's route table)
/// follows. Only a route table of the same configuration load hands one
/// out or takes one, so it never names another load's route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteIdx(usize);

impl RouteIdx {
    /// The route at `index` in the configuration's route list.
    pub fn new(index: usize) -> Self {
        Self(index)
    }

    /// The position in the configuration's route list.
    pub fn get(self) -> usize {
        self.0
    }
}

impl fmt::Display for RouteIdx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
