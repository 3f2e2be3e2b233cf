//! Open311 GeoReport v2 as the specification writes it, in JSON and XML, over real HTTP on both
//! engines: every method, the shapes its JSON Schemas require, and its errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_test_support::*;
use serde_json::Value;

/// A form POST; the status and the body.
fn post_form(served: &Served, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut response = agent.post(&format!("{}{path}", served.base)).send_form(form.iter().copied()).unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

/// The children of an XML document's root element, each as (name, its children's name and text).
fn xml_items(xml: &str, root: &str) -> Vec<(String, Vec<(String, String)>)> {
    assert!(xml.starts_with(r#"<?xml version="1.0" encoding="utf-8"?>"#), "{xml}");
    let document = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML ({e}): {xml}"));
    assert_eq!(document.root_element().tag_name().name(), root, "{xml}");
    document
        .root_element()
        .children()
        .filter(|n| n.is_element())
        .map(|item| {
            let fields = item
                .children()
                .filter(|n| n.is_element())
                .map(|f| (f.tag_name().name().to_owned(), f.text().unwrap_or_default().to_owned()))
                .collect();
            (item.tag_name().name().to_owned(), fields)
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {name}: {fields:?}"))
}

/// `form` with an address and `key` instead of its point.
fn without_point<'a>(mut form: Vec<(&'a str, &'a str)>, key: &'a str, address: &'a str) -> Vec<(&'a str, &'a str)> {
    form.retain(|(name, _)| *name != "lat" && *name != "long");
    form.extend([("address_string", address), ("api_key", key)]);
    form
}

/// What `request.json` requires of a service request.
fn check_request(request: &Value) {
    assert!(request["service_request_id"].is_string(), "{request}");
    assert!(["open", "closed"].contains(&request["status"].as_str().unwrap()), "{request}");
    assert!(request["service_code"].is_string(), "{request}");
    let requested = request["requested_datetime"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(requested).unwrap_or_else(|e| panic!("{requested}: {e}"));
    for optional in ["status_notes", "service_name", "description", "agency_responsible", "address", "media_url"] {
        assert!(request[optional].is_string() || request[optional].is_null(), "{optional}: {request}");
    }
    for number in ["lat", "long"] {
        assert!(request[number].is_number() || request[number].is_null(), "{number}: {request}");
    }
}

/// The specification's error shape: a list of {code, description}.
fn check_errors(status: u16, body: &str, xml: bool, expected: u16) {
    assert_eq!(status, expected, "{body}");
    if xml {
        let errors = xml_items(body, "errors");
        assert_eq!(errors[0].0, "error");
        assert_eq!(field(&errors[0].1, "code"), expected.to_string());
        assert!(!field(&errors[0].1, "description").is_empty());
    } else {
        let errors: Value = serde_json::from_str(body).unwrap();
        assert_eq!(errors[0]["code"], expected, "{body}");
        assert!(errors[0]["description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    }
}

fn check_open311(served: &Served) {
    let (_, key) = served
        .runtime
        .block_on(served.accounts.create_api_client("bridge-12345", "12345 热线", "centre:3603"))
        .unwrap();

    // Discovery, in both formats, naming the endpoint's full address.
    let (status, discovery) = get_json(served, "/open311/discovery.json");
    assert_eq!(status, 200);
    let endpoint = &discovery["endpoints"][0];
    assert_eq!(endpoint["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(endpoint["url"], format!("{}/open311/v2", served.base));
    assert!(endpoint["formats"].as_array().unwrap().contains(&"application/json".into()));
    for field in ["changeset", "contact", "key_service"] {
        assert!(discovery[field].is_string(), "{field}");
    }
    let (_, xml) = get(served, "/open311/discovery.xml");
    let parts = xml_items(&xml, "discovery");
    assert!(parts.iter().any(|(name, _)| name == "endpoints"), "{xml}");

    // Services: every category cases are filed under.
    let (status, services) = get_json(served, "/open311/v2/services.json");
    assert_eq!(status, 200);
    let services = services.as_array().unwrap();
    assert!(services.len() > 30, "{}", services.len());
    for service in services {
        assert!(service["service_code"].is_string() && service["service_name"].is_string(), "{service}");
        assert_eq!((&service["metadata"], &service["type"]), (&false.into(), &"realtime".into()));
    }
    let (_, xml) = get(served, "/open311/v2/services.xml");
    let listed = xml_items(&xml, "services");
    assert_eq!(listed.len(), services.len());
    assert!(
        listed
            .iter()
            .any(|(_, f)| field(f, "service_code") == "hazard.road" && field(f, "service_name") == "道路交通隐患")
    );
    let (status, definition) = get_json(served, "/open311/v2/services/hazard.road.json");
    assert_eq!(status, 200);
    assert_eq!(
        (&definition["service_code"], &definition["attributes"]),
        (&"hazard.road".into(), &Value::Array(vec![]))
    );

    // Filing a request with the key; it reads back in both formats.
    let form = |extra: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("service_code", "livelihood.road_repair"),
            ("lat", "27.6229"),
            ("long", "113.8543"),
            ("description", "路灯不亮 <b>&</b>"),
            ("last_name", "张"),
            ("first_name", "三"),
            ("phone", "13812345678"),
        ];
        form.extend_from_slice(extra);
        form
    };
    let mut with_key = form(&[("media_url", "https://photos.example.cn/lamp-17.jpg")]);
    with_key.push(("api_key", &key));
    let (status, body) = post_form(served, "/open311/v2/requests.json", &with_key);
    assert_eq!(status, 200, "{body}");
    let filed: Value = serde_json::from_str(&body).unwrap();
    let id = filed[0]["service_request_id"].as_str().unwrap().to_owned();
    assert!(filed[0].get("token").is_none(), "an id, not a token");
    let (status, found) = get_json(served, &format!("/open311/v2/requests/{id}.json"));
    assert_eq!(status, 200);
    assert_eq!(found.as_array().unwrap().len(), 1, "an array of one");
    check_request(&found[0]);
    assert_eq!((&found[0]["status"], &found[0]["description"]), (&"open".into(), &"路灯不亮 <b>&</b>".into()));
    assert_eq!(found[0]["media_url"], "https://photos.example.cn/lamp-17.jpg");
    assert!(!found.to_string().contains("13812345678") && !found.to_string().contains("张三"), "no contact details");
    let (_, xml) = get(served, &format!("/open311/v2/requests/{id}.xml"));
    let requests = xml_items(&xml, "service_requests");
    assert_eq!(requests[0].0, "request");
    assert_eq!(field(&requests[0].1, "description"), "路灯不亮 <b>&</b>", "escaped and read back");
    let (_, xml) = {
        let mut xml_form = with_key.clone();
        xml_form[0] = ("service_code", "hazard.fire");
        post_form(served, "/open311/v2/requests.xml", &xml_form)
    };
    let filed = xml_items(&xml, "service_requests");
    assert!(field(&filed[0].1, "service_request_id").starts_with("3603-"), "{xml}");

    // Queries: by id (overriding the rest), by service and status, within 90 days.
    let (_, listed) = get_json(served, &format!("/open311/v2/requests.json?service_request_id={id}&status=closed"));
    assert_eq!(listed.as_array().unwrap().len(), 1, "the id overrides the status");
    let (_, listed) = get_json(served, "/open311/v2/requests.json?service_code=livelihood.road_repair&status=open");
    let listed = listed.as_array().unwrap();
    assert!(listed.iter().any(|r| r["service_request_id"] == id.as_str()));
    listed.iter().for_each(check_request);
    let (_, closed) = get_json(served, "/open311/v2/requests.json?service_code=livelihood.road_repair&status=closed");
    assert!(!closed.as_array().unwrap().iter().any(|r| r["service_request_id"] == id.as_str()));
    let (_, empty) =
        get_json(served, "/open311/v2/requests.json?start_date=2020-01-01T00:00:00Z&end_date=2020-02-01T00:00:00Z");
    assert_eq!(empty, Value::Array(vec![]));

    // A request about people (a family dispute) is filed, and not published.
    let mut private = with_key.clone();
    private[0] = ("service_code", "dispute.family");
    let (status, body) = post_form(served, "/open311/v2/requests.json", &private);
    assert_eq!(status, 200, "{body}");
    let private_id =
        serde_json::from_str::<Value>(&body).unwrap()[0]["service_request_id"].as_str().unwrap().to_owned();
    let (status, body) = get(served, &format!("/open311/v2/requests/{private_id}.json"));
    check_errors(status, &body, false, 404);

    // Refusals, in the specification's error shape and statuses.
    let wrong_key = {
        let mut wrong = form(&[]);
        wrong.push(("api_key", "pa_wrong"));
        wrong
    };
    let no_place = {
        let mut form = with_key.clone();
        form.retain(|(name, _)| *name != "lat" && *name != "long");
        form
    };
    let unknown_service = {
        let mut form = with_key.clone();
        form[0] = ("service_code", "no.such");
        form
    };
    let long_text = "字".repeat(4001);
    let too_long = {
        let mut form = with_key.clone();
        form[3] = ("description", long_text.as_str());
        form
    };
    let outside = {
        let mut form = with_key.clone();
        form[1] = ("lat", "28.6820");
        form[2] = ("long", "115.8582");
        form
    };
    let (_, county_key) = served
        .runtime
        .block_on(served.accounts.create_api_client("bridge-xiangdong", "湘东区 App", "centre:360313"))
        .unwrap();
    let other_county = {
        let mut form = form(&[]);
        form.push(("api_key", &county_key));
        form
    };
    let bad_media = {
        let mut form = form(&[("media_url", "file:///etc/passwd")]);
        form.push(("api_key", &key));
        form
    };
    for (what, path, body, expected) in [
        ("no key", "/open311/v2/requests.xml", form(&[]), 403),
        ("a media_url that is not http", "/open311/v2/requests.json", bad_media, 400),
        ("a wrong key", "/open311/v2/requests.json", wrong_key, 403),
        ("no location", "/open311/v2/requests.json", no_place, 400),
        ("an unknown service", "/open311/v2/requests.xml", unknown_service, 404),
        ("a description over 4,000 characters", "/open311/v2/requests.json", too_long, 400),
        ("a point outside every grid", "/open311/v2/requests.json", outside, 400),
        ("a point outside the key's county", "/open311/v2/requests.json", other_county, 403),
    ] {
        let (status, answer) = post_form(served, path, &body);
        check_errors(status, &answer, path.ends_with(".xml"), expected);
        assert!(!answer.is_empty(), "{what}");
    }
    // No point, but an address: placed by the divisions it names, within the key's area.
    let (status, body) =
        post_form(served, "/open311/v2/requests.json", &without_point(form(&[]), &key, "安源区光丰街道上柳源村"));
    assert_eq!(status, 200, "{body}");
    let filed: Value = serde_json::from_str(&body).unwrap();
    let number = pingan_core::case::CaseNumber::parse(filed[0]["service_request_id"].as_str().unwrap()).unwrap();
    let placed = served.runtime.block_on(served.store.case_by_number(&number)).unwrap().expect("the case");
    // Roads are the county's: the district named (with its village) takes the request.
    assert_eq!((placed.division.as_str(), placed.grid.as_ref(), placed.body.lon), ("360302", None, None));
    let (_, found) = get_json(served, &format!("/open311/v2/requests/{number}.json"));
    check_request(&found[0]);
    assert_eq!((&found[0]["address"], &found[0]["lat"]), (&"安源区光丰街道上柳源村".into(), &Value::Null));
    for (what, form, expected) in [
        ("an address naming no place", without_point(form(&[]), &key, "楼下"), 400),
        ("an address fitting two villages", without_point(form(&[]), &key, "上埠村"), 400),
        ("an address outside the key's county", without_point(form(&[]), &county_key, "安源区光丰街道"), 403),
    ] {
        let (status, answer) = post_form(served, "/open311/v2/requests.json", &form);
        check_errors(status, &answer, false, expected);
        assert!(!answer.is_empty(), "{what}");
    }

    // An XML body (here an entity-expansion bomb) is never parsed: requests are form-encoded.
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
        <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><request>&d;</request>"#;
    let (status, body) = post_raw(served, "/open311/v2/requests.xml", &[("content-type", "text/xml")], bomb);
    check_errors(status, &body, true, 400);
    for (path, expected) in [
        ("/open311/v2/services/no.such.json", 404),
        ("/open311/v2/services/no.such.xml", 404),
        ("/open311/v2/requests/3603-20200101-000001.json", 404),
        ("/open311/v2/tokens/12345.json", 404),
        ("/open311/v2/services.json?jurisdiction_id=9999", 404),
        ("/open311/v2/requests.json?start_date=yesterday", 400),
        ("/open311/v2/requests.json?start_date=2025-01-01T00:00:00Z&end_date=2025-12-01T00:00:00Z", 400),
        ("/open311/v2/requests.xml?status=pending", 400),
        ("/open311/v2/services.yaml", 404),
    ] {
        let (status, body) = get(served, path);
        check_errors(status, &body, !path.contains(".json"), expected);
    }
}

#[test]
fn open311_on_sqlite() {
    check_open311(&served(Engine::Sqlite));
}

#[test]
fn open311_on_postgres() {
    check_open311(&served(Engine::Postgres));
}
