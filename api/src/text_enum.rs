//! One macro for the closed sets that are stored and sent as text: each value's name, parsing it back, Display.

/// Declares an enum whose values are named by text: `ALL` in declaration order, `as_str`, `named` (the value of
/// a name, if any) and `Display`; with `: "what"` after its name, also `FromStr`, whose error names the
/// expected values (`unknown role "x"; expected one of owner, admin, …`).
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident $(: $what:literal)? {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// Every value's name, in declaration order.
            pub const NAMES: [&'static str; [$($text),+].len()] = [$($text),+];

            /// The value's name, as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value named `text`, if there is one.
            pub fn named(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $(
            impl std::str::FromStr for $name {
                type Err = String;
                fn from_str(s: &str) -> Result<Self, String> {
                    Self::named(s).ok_or_else(|| {
                        format!(
                            "unknown {} {s:?}; expected one of {}",
                            $what,
                            Self::NAMES.join(", ")
                        )
                    })
                }
            }
        )?
    };
}

pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    text_enum! {
        /// A test set.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Colour: "colour" {
            /// The first.
            Red = "red",
            DarkBlue = "dark_blue",
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_say_what_is_expected() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::DarkBlue]);
        for colour in Colour::ALL {
            assert_eq!(colour.as_str().parse::<Colour>(), Ok(colour));
            assert_eq!(Colour::named(&colour.to_string()), Some(colour));
        }
        assert_eq!(
            "green".parse::<Colour>(),
            Err("unknown colour \"green\"; expected one of red, dark_blue".to_owned())
        );
        assert_eq!(Colour::named("Red"), None);
    }
}
