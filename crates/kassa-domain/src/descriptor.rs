//! Statement descriptors, by Stripe's rules (stripe-facts §1.4).
//!
//! The complete descriptor a cardholder sees is either a static descriptor or `<prefix>* <suffix>`.
//! It must be 5–22 characters (the `*` and the space included), Latin only, contain at least one
//! letter (each part, when it has two), and none of `<` `>` `\` `'` `"` `*`.

use crate::ValidationError;

pub const MAX_LEN: usize = 22;
pub const MIN_LEN: usize = 5;
/// Stripe uses at most this many characters of a static descriptor as the prefix.
pub const MAX_PREFIX_LEN: usize = 10;
const FORBIDDEN: [char; 6] = ['<', '>', '\\', '\'', '"', '*'];

fn is_latin(c: char) -> bool {
    matches!(c, ' '..='~')
        || (('\u{00C0}'..='\u{024F}').contains(&c) && c != '\u{00D7}' && c != '\u{00F7}')
}

/// The rules every part of a descriptor follows on its own: Latin only, at least one letter, none
/// of the forbidden characters, no leading or trailing space.
pub fn check_part(part: &str) -> Result<(), ValidationError> {
    if let Some(c) = part.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(ValidationError::new(
            "",
            format!("must not contain `{c}` (Stripe forbids < > \\ ' \" and *)"),
        ));
    }
    if let Some(c) = part.chars().find(|c| !is_latin(*c)) {
        return Err(ValidationError::new(
            "",
            format!("must use Latin characters only; `{c}` is not allowed"),
        ));
    }
    if !part.chars().any(char::is_alphabetic) {
        return Err(ValidationError::new("", "must contain at least one letter"));
    }
    if part.trim() != part {
        return Err(ValidationError::new(
            "",
            "must not start or end with a space",
        ));
    }
    Ok(())
}

fn check_length(full: &str) -> Result<(), ValidationError> {
    let n = full.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&n) {
        return Err(ValidationError::new(
            "",
            format!("the statement descriptor `{full}` is {n} characters; Stripe requires {MIN_LEN} to {MAX_LEN}"),
        ));
    }
    Ok(())
}

/// The prefix Stripe derives from a static descriptor: its first ten characters, trimmed.
pub fn prefix_of(descriptor: &str) -> String {
    descriptor
        .chars()
        .take(MAX_PREFIX_LEN)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// The descriptor a cardholder sees for a prefix and a suffix: `PREFIX* SUFFIX`.
pub fn combine(prefix: &str, suffix: &str) -> String {
    format!("{prefix}* {suffix}")
}

/// Validates a static (complete) descriptor.
pub fn check_static(descriptor: &str) -> Result<(), ValidationError> {
    check_part(descriptor)?;
    check_length(descriptor)
}

/// Validates a configured descriptor suffix (soft descriptor). When the account's static
/// descriptor is known, the suffix must fit with its prefix into a complete descriptor; when it is
/// not, the suffix must be a valid complete descriptor by itself.
pub fn check_suffix(suffix: &str, descriptor: Option<&str>) -> Result<(), ValidationError> {
    check_part(suffix)?;
    match descriptor {
        Some(d) => {
            let prefix = prefix_of(d);
            let full = combine(&prefix, suffix);
            let n = full.chars().count();
            if n > MAX_LEN {
                let room = MAX_LEN.saturating_sub(prefix.chars().count() + 2);
                return Err(ValidationError::new(
                    "",
                    format!(
                        "with the prefix `{prefix}` the statement descriptor `{full}` is {n} characters; Stripe allows {MAX_LEN}, which leaves {room} for the suffix"
                    ),
                ));
            }
            check_length(&full)
        }
        None => check_length(suffix),
    }
}

/// A suffix that arrives with a payment request: longer than 22 characters it is cut to 22, as the
/// seed says, and then it must still follow the character rules.
pub fn normalize_request_suffix(suffix: &str) -> Result<String, ValidationError> {
    fit_suffix(suffix, None)
}

/// A suffix cut to what fits: 22 characters, or, when the account's static descriptor is known,
/// what is left of 22 after its prefix and `* ` (Stripe refuses a longer whole descriptor). With
/// a known descriptor the whole one must also reach 5 characters (a one-letter prefix, as in
/// `A         BC`, and a one-letter suffix make `A* B`, which Stripe refuses).
pub fn fit_suffix(suffix: &str, descriptor: Option<&str>) -> Result<String, ValidationError> {
    let prefix = descriptor.map(prefix_of);
    let room = match &prefix {
        Some(p) => MAX_LEN.saturating_sub(p.chars().count() + 2),
        None => MAX_LEN,
    };
    let cut: String = suffix.trim().chars().take(room).collect();
    let cut = cut.trim_end().to_string();
    check_part(&cut)?;
    if let Some(p) = &prefix {
        check_length(&combine(p, &cut))?;
    }
    Ok(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_example_fits() {
        assert!(check_suffix("OCT MARATHON", Some("RUNCLUB")).is_ok());
        assert_eq!(combine("RUNCLUB", "OCT MARATHON"), "RUNCLUB* OCT MARATHON");
    }

    #[test]
    fn suffix_too_long_for_prefix() {
        let e = check_suffix("OCTOBER MARATHON", Some("RUNCLUB")).unwrap_err();
        assert!(e.message.contains("leaves 13"), "{}", e.message);
    }

    #[test]
    fn prefix_is_first_ten_characters_of_descriptor() {
        assert_eq!(prefix_of("SUPERSHOP ONLINE"), "SUPERSHOP");
        assert_eq!(prefix_of("ABCDEFGHIJKLMN"), "ABCDEFGHIJ");
        assert!(check_suffix("GOLD", Some("ABCDEFGHIJKLMN")).is_ok()); // ABCDEFGHIJ* GOLD = 16
        assert!(check_suffix("GOLD PLAN EXTRA", Some("ABCDEFGHIJKLMN")).is_err());
        // 27
    }

    #[test]
    fn forbidden_characters() {
        for c in ['<', '>', '\\', '\'', '"', '*'] {
            let s = format!("SHOP{c}X");
            let e = check_static(&s).unwrap_err();
            assert!(e.message.contains("must not contain"), "{c}: {}", e.message);
        }
    }

    #[test]
    fn needs_a_letter() {
        assert!(check_static("12345").is_err());
        assert!(check_suffix("1234", Some("SHOP")).is_err());
        assert!(check_suffix("A1234", Some("SHOP")).is_ok());
    }

    #[test]
    fn latin_only() {
        assert!(check_static("CAFÉ PARIS").is_ok());
        assert!(check_static("МАГАЗИН").is_err());
        assert!(check_static("お店のなまえ").is_err());
        assert!(check_static("SHOP\tTAB").is_err());
    }

    #[test]
    fn length_bounds() {
        assert!(check_static("ABCD").is_err());
        assert!(check_static("ABCDE").is_ok());
        assert!(check_static("ABCDEFGHIJKLMNOPQRSTUV").is_ok()); // 22
        assert!(check_static("ABCDEFGHIJKLMNOPQRSTUVW").is_err()); // 23
                                                                   // A suffix with no known prefix must be a whole descriptor.
        assert!(check_suffix("GOLD", None).is_err());
        assert!(check_suffix("GOLD PLAN", None).is_ok());
        // Whole descriptor with a short prefix and suffix still reaches five characters.
        assert!(check_suffix("A", Some("AB")).is_ok()); // "AB* A" = 5
    }

    #[test]
    fn request_suffix_is_truncated_to_22() {
        let s = normalize_request_suffix("ABCDEFGHIJKLMNOPQRSTUVWXYZ").unwrap();
        assert_eq!(s, "ABCDEFGHIJKLMNOPQRSTUV");
        assert!(normalize_request_suffix("BAD*ONE").is_err());
    }

    #[test]
    fn suffix_fits_the_prefix() {
        assert_eq!(
            fit_suffix("OCTOBER MARATHON 2026", Some("RUNCLUB")).unwrap(),
            "OCTOBER MARAT"
        );
        assert_eq!(
            fit_suffix("OCTOBER MARATHON 2026", None).unwrap(),
            "OCTOBER MARATHON 2026"
        );
    }

    #[test]
    fn a_fitted_suffix_makes_a_whole_descriptor_of_five() {
        // Found by the fuzzer: the prefix of `A         BC` is `A`, and `A* A` is 4 characters.
        assert!(check_static("A         BC").is_ok());
        assert!(fit_suffix("A", Some("A         BC")).is_err());
        assert_eq!(fit_suffix("AB", Some("A         BC")).unwrap(), "AB");
    }

    #[test]
    fn spaces_at_the_edges_are_rejected() {
        assert!(check_static(" SHOPS").is_err());
        assert!(check_static("SHOPS ").is_err());
    }
}
