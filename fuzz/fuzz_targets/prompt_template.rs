//! Prompt templates: `signalbox_config::Template::parse` and `render`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalbox_config::Template;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(template) = Template::parse(text) else {
        return;
    };
    let names: Vec<&str> = template.variables().collect();
    std::hint::black_box(&names);
    std::hint::black_box(template.render(|_| Some("VALUE")));
    std::hint::black_box(template.render(|_| Some("{{ nested }}")));
    std::hint::black_box(template.render(|name| (name.len() % 2 == 0).then_some("even")));
    std::hint::black_box(template.render(|_| None));
});
