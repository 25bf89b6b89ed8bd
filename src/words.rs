//! Small pieces of English the messages share.

/// `noun`, or its plural (`+s`) unless `count` is one: `plural(3, "day")` is `days`.
pub fn plural<T: PartialEq + From<u8>>(count: T, noun: &str) -> String {
    if count == T::from(1) {
        noun.to_owned()
    } else {
        format!("{noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::plural;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(plural(1_i64, "day"), "day");
        assert_eq!(plural(0_usize, "file"), "files");
        assert_eq!(plural(2_u32, "attempt"), "attempts");
    }
}
