//! A link that opens one trace in Grafana Explore.
//!
//! Explore's URL state (Grafana 10.2 and later, current in 11 to 13) is
//! `explore?schemaVersion=1&panes=<JSON>`: `panes` maps a pane id (three
//! characters, not all digits) to that pane's data source uid, queries and
//! time range. A Tempo query whose `query` is a bare trace id, of query type
//! `traceql`, opens that trace; it is the link Grafana itself builds from a
//! trace id in its search results.

use serde_json::json;
use url::{Url, form_urlencoded};

/// The uid the suite provisions its Tempo data source with.
pub const TEMPO_DATASOURCE_UID: &str = "tempo";

/// `{grafana}/explore?schemaVersion=1&panes=...` for `trace_id`.
pub fn trace_url(grafana: &Url, trace_id: &str) -> String {
    let tempo = json!({ "type": "tempo", "uid": TEMPO_DATASOURCE_UID });
    let panes = json!({
        "trc": {
            "datasource": TEMPO_DATASOURCE_UID,
            "queries": [{
                "refId": "A",
                "datasource": tempo,
                "queryType": "traceql",
                "query": trace_id,
            }],
            // Tempo finds a trace by id whatever the range; the range only
            // sets the time picker of the page that opens.
            "range": { "from": "now-1h", "to": "now" },
        }
    });
    let panes: String = form_urlencoded::byte_serialize(panes.to_string().as_bytes()).collect();
    format!(
        "{}/explore?schemaVersion=1&panes={panes}",
        grafana.as_str().trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn builds_the_explore_link() {
        let grafana = Url::parse("http://localhost:3000").unwrap();
        assert_eq!(
            trace_url(&grafana, TRACE_ID),
            "http://localhost:3000/explore?schemaVersion=1&panes=\
             %7B%22trc%22%3A%7B%22datasource%22%3A%22tempo%22%2C%22queries%22%3A%5B%7B\
             %22refId%22%3A%22A%22%2C%22datasource%22%3A%7B%22type%22%3A%22tempo%22%2C\
             %22uid%22%3A%22tempo%22%7D%2C%22queryType%22%3A%22traceql%22%2C\
             %22query%22%3A%224bf92f3577b34da6a3ce929d0e0e4736%22%7D%5D%2C\
             %22range%22%3A%7B%22from%22%3A%22now-1h%22%2C%22to%22%3A%22now%22%7D%7D%7D"
        );
    }

    #[test]
    fn the_panes_parameter_decodes_to_the_tempo_query() {
        let grafana = Url::parse("http://localhost:3000").unwrap();
        let link = Url::parse(&trace_url(&grafana, TRACE_ID)).unwrap();
        let params: Vec<(String, String)> = link.query_pairs().into_owned().collect();
        assert_eq!(params[0], ("schemaVersion".to_owned(), "1".to_owned()));
        assert_eq!(params[1].0, "panes");
        let panes: serde_json::Value = serde_json::from_str(&params[1].1).unwrap();
        let pane = &panes["trc"];
        assert_eq!(pane["datasource"], "tempo");
        assert_eq!(pane["queries"][0]["queryType"], "traceql");
        assert_eq!(pane["queries"][0]["query"], TRACE_ID);
        assert_eq!(pane["queries"][0]["datasource"]["uid"], "tempo");
    }

    #[test]
    fn keeps_a_sub_path_and_drops_a_trailing_slash() {
        let grafana = Url::parse("https://example.test/grafana/").unwrap();
        assert!(
            trace_url(&grafana, TRACE_ID)
                .starts_with("https://example.test/grafana/explore?schemaVersion=1&panes=%7B")
        );
    }
}
