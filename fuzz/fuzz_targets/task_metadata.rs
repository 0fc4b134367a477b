//! Fuzzes the ECS task metadata v4 parsers: `parse_container`, `parse_task`, and the image helpers
//! `image_tag` / `is_agent_image` on every image found and on the raw input. Nothing panics; a tag
//! label keeps only what followed the `com.datadoghq.tags.` prefix; an image tag is non-empty,
//! trimmed, never `latest` nor a digest, and contains no `/`, `:` or `@`; an image recognised as
//! the Agent names `datadog/agent` or `datadoghq/agent`; the shape helpers of `TaskMetadata`
//! (network mode, sidecar Agent) never panic on any pair of documents.
#![no_main]

use ddboot::fuzz::source::task_metadata::{self, TaskMetadata};
use libfuzzer_sys::fuzz_target;

fn check_image(image: &str) {
    if let Some(tag) = task_metadata::image_tag(image) {
        assert!(!tag.is_empty() && tag.trim() == tag, "{image:?} gave tag {tag:?}");
        assert!(!tag.eq_ignore_ascii_case("latest") && !tag.starts_with("sha256"), "{image:?}: {tag:?}");
        assert!(!tag.contains(['/', ':', '@']), "{image:?} gave tag {tag:?}");
    }
    if task_metadata::is_agent_image(image) {
        let lower = image.to_ascii_lowercase();
        assert!(lower.contains("datadog/agent") || lower.contains("datadoghq/agent"), "{image:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let container = task_metadata::parse_container(data);
    let task = task_metadata::parse_task(data);
    assert_eq!(container.is_ok(), task.is_ok(), "both documents must be JSON objects");
    if let Ok(c) = &container {
        for (key, _) in &c.tag_labels {
            let _ = c.tag_label(key).expect("a listed label is found");
        }
        if let Some(image) = &c.image {
            check_image(image);
        }
    }
    if let Ok(t) = &task {
        for image in t.containers.iter().filter_map(|c| c.image.as_deref()) {
            check_image(image);
        }
    }
    check_image(&String::from_utf8_lossy(data));
    // The same bytes as either document, and each with a missing partner.
    let tm = TaskMetadata { container: container.clone(), task: task.clone() };
    let _ = (tm.network_mode(), tm.agent_container());
    let tm = TaskMetadata { container, task: Err("absent".into()) };
    let _ = (tm.network_mode(), tm.agent_container());
    let tm = TaskMetadata { container: Err("absent".into()), task };
    let _ = (tm.network_mode(), tm.agent_container());
});
