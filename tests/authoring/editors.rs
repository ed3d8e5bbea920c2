//! The TextMate grammar stays in step with the `.mill` grammar.

use super::root;

#[test]
fn every_keyword_of_the_grammar_is_highlighted() {
    let pest = std::fs::read_to_string(root().join("grammar/mill.pest")).unwrap();
    let tm: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("editors/mill.tmLanguage.json")).unwrap())
            .unwrap();
    assert_eq!(tm["scopeName"], "source.mill");
    let keywords = tm["repository"]["keyword"]["patterns"].to_string();
    let declarations = tm["repository"]["declaration"].to_string();
    let mut missing = Vec::new();
    let mut seen = 0;
    for line in pest.lines().filter(|l| l.starts_with("KW_")) {
        let word = line.split('"').nth(1).unwrap();
        seen += 1;
        if !keywords.contains(&format!("|{word}|"))
            && !keywords.contains(&format!("({word}|"))
            && !keywords.contains(&format!("|{word})"))
            && !declarations.contains(&format!("({word})"))
        {
            missing.push(word.to_string());
        }
    }
    assert!(seen > 40, "the grammar's keywords went missing");
    assert!(missing.is_empty(), "keywords not highlighted: {missing:?}");
}
