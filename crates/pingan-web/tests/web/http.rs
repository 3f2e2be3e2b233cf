//! The server over real HTTP on loopback, loaded with the demo data, on both engines; and the home
//! page as a real headless Chromium renders it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use pingan_core::Timestamp;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use pingan_app::demo::DEMO_PASSWORD;
use pingan_app::geography::import_grids;
use pingan_test_support::*;
use serde_json::{Value, json};

/// Submitting and acting on cases over HTTP, and the refusals.
fn check_case_api(served: &Served) {
    let village = token(served, "village");
    let sibling = token(served, "sibling");
    let grid = token(served, "grid");
    let report = serde_json::json!({
        "channel": "resident", "category": "dispute.neighbour", "lon": 113.8543, "lat": 27.6229,
        "description": "楼上漏水", "reporter_name": "张三丰", "reporter_phone": "13812345678"
    })
    .to_string();
    // The report with an address instead of its point.
    let at_address = |address: &str| {
        let mut fields: serde_json::Map<String, Value> = serde_json::from_str(&report).unwrap();
        fields.remove("lon");
        fields.remove("lat");
        fields.insert("address".into(), address.into());
        Value::Object(fields).to_string()
    };
    // A resident reports without an account, and is given a token to follow the case.
    let (status, created) = post(served, "/api/v1/cases", &[JSON, ("idempotency-key", "http-test-1")], &report);
    assert_eq!(status, 201, "{created}");
    let case = &created["case"];
    let number = case["number"].as_str().unwrap().to_owned();
    let follow = created["follow_token"].as_str().unwrap().to_owned();
    assert_eq!(case["status"], "reported");
    assert_eq!(case["division"], "360302008205");
    assert_eq!(case["reporter"], serde_json::json!({ "name": "张**", "phone": "138****5678", "id_number": null }));
    assert!(!created.to_string().contains("13812345678"), "personal data leaked");
    let (status, again) = post(served, "/api/v1/cases", &[JSON, ("idempotency-key", "http-test-1")], &report);
    assert_eq!((status, &again["case"]["id"]), (200, &case["id"]));
    assert!(again.get("follow_token").is_none(), "a follow token is shown once");
    // The same key from someone else, or with other content, is another report: never the case above.
    let other = report.replace("楼上漏水", "楼下漏水");
    let (status, elsewhere) = post(served, "/api/v1/cases", &[JSON, ("idempotency-key", "http-test-1")], &other);
    assert!(status == 201 && elsewhere["case"]["id"] != case["id"], "{elsewhere}");
    let patrol = report.replace("\"resident\"", "\"grid_patrol\"");
    let headers = [JSON, ("idempotency-key", "http-test-1"), ("authorization", grid.as_str())];
    let (status, theirs) = post(served, "/api/v1/cases", &headers, &patrol);
    assert!(status == 201 && theirs["case"]["id"] != case["id"], "{theirs}");
    // Similar open reports nearby: a resident learns that there are some, never their numbers;
    // staff who may see them are given the numbers.
    assert!(elsewhere["similar_reports"].as_u64().is_some_and(|n| n >= 1), "{elsewhere}");
    assert_eq!(elsewhere["possible_duplicates"], serde_json::json!([]), "other people's case numbers: {elsewhere}");
    let (status, from_the_village) = post(
        served,
        "/api/v1/cases",
        &[JSON, ("authorization", village.as_str())],
        &report.replace("\"resident\"", "\"hotline\""),
    );
    assert_eq!(status, 201, "{from_the_village}");
    let numbers = from_the_village["possible_duplicates"].as_array().unwrap();
    assert!(numbers.contains(&case["number"]) && numbers.contains(&elsewhere["case"]["number"]), "{from_the_village}");

    // No point: the address places the report in the village it names.
    let (status, placed) = post(served, "/api/v1/cases", &[JSON], &at_address("光丰街道上柳源村3组"));
    assert_eq!(
        (status, &placed["case"]["division"], &placed["case"]["grid"]),
        (201, &"360302008205".into(), &Value::Null)
    );
    let (status, refused) = post(served, "/api/v1/cases", &[JSON], &at_address("上埠村"));
    assert_eq!((status, &refused["error"]["code"]), (422, &"address_not_placed".into()), "{refused}");
    assert_eq!(
        refused["error"]["details"]["candidates"],
        serde_json::json!(["上栗县东源乡上埠村委会", "芦溪县上埠镇上埠村委会"])
    );

    let case_path = format!("/api/v1/cases/{number}");
    let (status, fetched) = get_json_with(served, &case_path, &[("authorization", &village)]);
    assert_eq!((status, &fetched["id"]), (200, &case["id"]));
    let (status, followed) = get_json_with(served, &case_path, &[("x-follow-token", &follow)]);
    assert_eq!((status, &followed["id"]), (200, &case["id"]));
    for (what, headers) in [
        ("no credentials", vec![]),
        ("a wrong follow token", vec![("x-follow-token", "pf_guessed")]),
        ("a sibling village's centre", vec![("authorization", sibling.as_str())]),
    ] {
        let (status, refused) = get_json_with(served, &case_path, &headers);
        assert_eq!((status, &refused["error"]["code"]), (404, &"case_not_found".into()), "{what}: {refused}");
    }
    let accept = |version: i64| serde_json::json!({ "action": "accept", "expected_version": version }).to_string();
    let actions = format!("/api/v1/cases/{number}/actions");
    let (status, accepted) = post(served, &actions, &[JSON, ("authorization", &village)], &accept(1));
    assert_eq!((status, &accepted["status"], &accepted["version"]), (200, &"accepted".into(), &2.into()), "{accepted}");

    let revoked = token(served, "village");
    let (_, tokens) = get_json_with(served, "/api/v1/auth/tokens", &[("authorization", &revoked)]);
    let newest = tokens[0]["id"].as_str().unwrap().to_owned();
    assert!(tokens[0].get("token").is_none(), "a token is never shown again");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    assert_eq!(delete(served, &format!("/api/v1/auth/tokens/{newest}"), &revoked).0, 204);

    // (what, path, headers, body, expected status, expected code)
    type Refusal<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, String, u16, &'a str);
    let dispatch = serde_json::json!({ "action": "dispatch", "expected_version": 2, "target": "centre:360302008201" });
    let hotline = report.replace("\"resident\"", "\"hotline\"");
    let refusals: Vec<Refusal> = vec![
        ("stale version", &actions, vec![JSON, ("authorization", &village)], accept(1), 409, "version_conflict"),
        (
            "the fields as an array",
            &actions,
            vec![JSON, ("authorization", &village)],
            r#"["accept", 2]"#.into(),
            400,
            "malformed_json",
        ),
        (
            "another village",
            &actions,
            vec![JSON, ("authorization", &sibling)],
            dispatch.to_string(),
            404,
            "case_not_found",
        ),
        (
            "claim before dispatch",
            &actions,
            vec![JSON, ("authorization", &village)],
            serde_json::json!({ "action": "claim", "expected_version": 2 }).to_string(),
            409,
            "invalid_transition",
        ),
        ("no credentials", &actions, vec![JSON], accept(2), 401, "not_authenticated"),
        ("a revoked token", &actions, vec![JSON, ("authorization", &revoked)], accept(2), 401, "credential_revoked"),
        (
            "a made-up token",
            &actions,
            vec![JSON, ("authorization", "Bearer pa_x")],
            accept(2),
            401,
            "not_authenticated",
        ),
        ("hotline without an account", "/api/v1/cases", vec![JSON], hotline.clone(), 401, "not_authenticated"),
        (
            "a grid worker as hotline",
            "/api/v1/cases",
            vec![JSON, ("authorization", &grid)],
            hotline,
            403,
            "channel_not_allowed",
        ),
        ("malformed JSON", "/api/v1/cases", vec![JSON], "{\"channel\": ".into(), 400, "malformed_json"),
        ("no content type", "/api/v1/cases", vec![], report.clone(), 415, "unsupported_media_type"),
        (
            "unknown field",
            "/api/v1/cases",
            vec![JSON],
            report.replace("\"category\"", "\"act0r\":1,\"category\""),
            400,
            "malformed_json",
        ),
        (
            "outside the area",
            "/api/v1/cases",
            vec![JSON],
            report.replace("113.8543", "115.8543"),
            422,
            "outside_served_area",
        ),
        (
            "an address alone that names no place",
            "/api/v1/cases",
            vec![JSON],
            at_address("三楼东户"),
            422,
            "address_not_placed",
        ),
        (
            "unknown category",
            "/api/v1/cases",
            vec![JSON],
            report.replace("dispute.neighbour", "dispute.ufo"),
            400,
            "unknown_category",
        ),
        ("bad phone", "/api/v1/cases", vec![JSON], report.replace("13812345678", "call me"), 400, "invalid_field"),
        (
            "an ID number that is not ASCII",
            "/api/v1/cases",
            vec![JSON],
            report.replace("\"reporter_name\"", "\"reporter_id_number\":\"1234567890123456é\",\"reporter_name\""),
            400,
            "invalid_field",
        ),
        (
            "a unit of another county",
            &actions,
            vec![JSON, ("authorization", &village)],
            serde_json::json!({ "action": "dispatch", "expected_version": 2, "target": "department:360313:cg" })
                .to_string(),
            400,
            "target_elsewhere",
        ),
        (
            "oversized body",
            "/api/v1/cases",
            vec![JSON],
            report.replace("楼上漏水", &"水".repeat(30_000)),
            413,
            "body_too_large",
        ),
        (
            "unknown case",
            "/api/v1/cases/3603-20200101-000001/actions",
            vec![JSON, ("authorization", &village)],
            accept(1),
            404,
            "case_not_found",
        ),
    ];
    for (what, path, headers, body, expected_status, expected_code) in refusals {
        let (status, answer) = post(served, path, &headers, &body);
        assert_eq!(status, expected_status, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], expected_code, "{what}: {answer}");
        assert!(!answer["error"]["message_zh"].as_str().unwrap().is_empty(), "{what}");
    }
    let history_path = format!("/api/v1/cases/{number}/history");
    let (status, history) = get_json_with(served, &history_path, &[("authorization", &village)]);
    assert_eq!(status, 200);
    let entries = history.as_array().unwrap();
    assert_eq!(entries.len(), 2, "refused requests wrote nothing: {history}");
    assert_eq!(entries[1]["action"], "accept");
    assert_eq!(entries[1]["details"]["by"], "village");
    assert_eq!(entries[1]["hash"].as_str().unwrap().len(), 64);
    let (status, _) = get_json_with(served, &history_path, &[("authorization", &sibling)]);
    assert_eq!(status, 404);
    let (status, followed) = get_json_with(served, &history_path, &[("x-follow-token", &follow)]);
    assert_eq!(status, 200);
    assert!(followed[1]["details"].get("by").is_none(), "staff logins stay hidden from the public: {followed}");

    // The web session: a cookie, and a CSRF token on every unsafe request.
    let login = serde_json::json!({ "login": "village", "password": DEMO_PASSWORD }).to_string();
    let mut response = agent
        .post(&format!("{}/api/v1/auth/login", served.base))
        .header("content-type", "application/json")
        .send(&login)
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let set_cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let logged_in: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    let csrf = logged_in["csrf_token"].as_str().unwrap().to_owned();
    let note = serde_json::json!({ "action": "note", "expected_version": 2, "reason": "已电话联系" }).to_string();
    let (status, refused) = post(served, &actions, &[JSON, ("cookie", &cookie)], &note);
    assert_eq!((status, &refused["error"]["code"]), (403, &"csrf_failed".into()), "{refused}");
    let (status, noted) = post(served, &actions, &[JSON, ("cookie", &cookie), ("x-csrf-token", &csrf)], &note);
    assert_eq!((status, &noted["version"]), (200, &3.into()), "{noted}");
    let (status, me) = get_json_with(served, "/api/v1/me", &[("cookie", &cookie)]);
    assert_eq!((status, &me["unit"]), (200, &"centre:360302008205".into()));

    // Revealing the reporter: roles that may, with a reason, logged; the rest refused.
    let reveal = format!("/api/v1/cases/{number}/reveal");
    let why = serde_json::json!({ "reason": "回访核实" }).to_string();
    let (status, revealed) = post(served, &reveal, &[JSON, ("authorization", &village)], &why);
    assert_eq!((status, &revealed["reporter"]["phone"]), (200, &"13812345678".into()), "{revealed}");
    let (status, refused) = post(served, &reveal, &[JSON, ("authorization", &grid)], &why);
    assert_eq!((status, &refused["error"]["code"]), (403, &"forbidden".into()), "{refused}");
    let (status, refused) = post(served, &reveal, &[JSON, ("authorization", &sibling)], &why);
    assert_eq!((status, &refused["error"]["code"]), (404, &"case_not_found".into()), "{refused}");
    let no_reason = serde_json::json!({ "reason": " " }).to_string();
    let (status, refused) = post(served, &reveal, &[JSON, ("authorization", &village)], &no_reason);
    assert_eq!((status, &refused["error"]["code"]), (400, &"reason_required".into()), "{refused}");
    let admin = token(served, "admin");
    let (status, log) = get_json_with(served, "/api/v1/access-log", &[("authorization", &admin)]);
    assert_eq!(status, 200, "{log}");
    let events: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    for expected in ["reveal_reporter", "refused_case", "refused_credential", "refused_csrf"] {
        assert!(events.contains(&expected), "{expected} missing from {events:?}");
    }
    let (status, _, csv) = get_with(served, "/api/v1/access-log?format=csv", &[("authorization", &admin)]);
    assert_eq!(status, 200);
    assert!(
        csv.trim_start_matches('\u{feff}').starts_with("at,account_id,unit,event,case_id,reason,address")
            && csv.contains("回访核实"),
        "{csv}"
    );
    let (status, refused) = get_json_with(served, "/api/v1/access-log", &[("authorization", &village)]);
    assert_eq!((status, &refused["error"]["code"]), (403, &"forbidden".into()));
    // The raw database holds no reporter contact in the clear.
    let stored = served
        .runtime
        .block_on(served.store.case_by_number(&pingan_core::case::CaseNumber::parse(&number).unwrap()))
        .unwrap()
        .unwrap();
    let sealed = stored.body.reporter_sealed.clone().unwrap();
    assert!(!sealed.contains("13812345678") && !sealed.contains("张三丰"));

    let (status, headers, _) = get_with(served, "/healthz", &[]);
    assert_eq!(status, 200);
    for (name, value) in
        [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"), ("referrer-policy", "no-referrer")]
    {
        assert_eq!(headers.get(name).and_then(|v| v.to_str().ok()), Some(value), "{name}");
    }
    assert!(headers.get("content-security-policy").is_some());
    // ETags: the version; an unchanged case is not sent again, and a stale If-Match is refused.
    let as_village = [("authorization", village.as_str())];
    let (status, head, _) = get_with(served, &case_path, &as_village);
    let tag = head.get("etag").unwrap().to_str().unwrap().to_owned();
    let version: i64 = tag.trim_matches('"').parse().unwrap();
    assert_eq!(status, 200);
    let (status, _, body) = get_with(served, &case_path, &[as_village[0], ("if-none-match", &tag)]);
    assert_eq!((status, body.as_str()), (304, ""));
    let note = serde_json::json!({ "action": "note", "reason": "电话联系" }).to_string();
    let stale = format!("\"{}\"", version - 1);
    let (status, refused) = post(served, &actions, &[JSON, as_village[0], ("if-match", &stale)], &note);
    assert_eq!((status, &refused["error"]["code"]), (412, &"version_conflict".into()), "{refused}");
    let (status, refused) = post(served, &actions, &[JSON, as_village[0]], &note);
    assert_eq!((status, &refused["error"]["code"]), (400, &"missing_field".into()), "{refused}");
    let (status, noted) = post(served, &actions, &[JSON, as_village[0], ("if-match", &tag)], &note);
    assert_eq!((status, &noted["version"]), (200, &(version + 1).into()), "{noted}");
}

/// Administrators manage the accounts of their subtree; a first password must be changed.
/// Lists page through the caller's cases with filters; a bad query is refused, never ignored.
fn check_case_lists(served: &Served) {
    let county = token(served, "county");
    let as_county = [("authorization", county.as_str())];
    let hotline = token(served, "hotline");
    for i in 0..5 {
        let report = serde_json::json!({
            "channel": "hotline", "category": "livelihood.road_repair", "lon": 113.8543, "lat": 27.6229,
            "description": format!("路灯不亮 {i}"), "reporter_phone": "13700000000"
        });
        let (status, created) =
            post(served, "/api/v1/cases", &[JSON, ("authorization", &hotline)], &report.to_string());
        assert_eq!(status, 201, "{created}");
    }
    let filter = "channel=hotline&category=livelihood.road_repair&division=360302&status=reported,accepted,dispatched,in_progress";
    let (status, counted) = get_json_with(served, &format!("/api/v1/cases/count?{filter}"), &as_county);
    assert_eq!(status, 200, "{counted}");
    let total = counted["count"].as_u64().unwrap();
    assert!(total >= 5, "{counted}");
    // Two at a time: every case once, newest first, and no cursor after the last page.
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let after = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (status, page) = get_json_with(served, &format!("/api/v1/cases?{filter}&limit=2{after}"), &as_county);
        assert_eq!(status, 200, "{page}");
        for case in page["cases"].as_array().unwrap() {
            assert_eq!((&case["channel"], &case["category"]), (&"hotline".into(), &"livelihood.road_repair".into()));
            assert_eq!(case["reporter"]["phone"], "137****0000", "masked in lists");
            seen.push((case["reported_at"].as_i64().unwrap(), case["id"].as_str().unwrap().to_owned()));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len() as u64, total);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, each once: {seen:?}");

    let (status, _, csv) = get_with(served, &format!("/api/v1/cases/export?{filter}"), &as_county);
    assert_eq!(status, 200);
    let mut lines = csv.lines();
    let header = lines.next().unwrap().trim_start_matches('\u{feff}');
    assert!(header.starts_with("number,status,channel") && !header.contains("reporter"), "{header}");
    assert_eq!(lines.count() as u64, total, "one row per case");
    assert!(!csv.contains("13700000000") && !csv.contains("137****"), "no contact details unless asked");

    // Text search: 路灯不亮 3 is one of the five; the words alone find all five.
    let search = |q: &str| {
        let (status, page) = get_json_with(served, &format!("/api/v1/cases?{filter}&q={q}"), &as_county);
        assert_eq!(status, 200, "{page}");
        page["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["description"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(search("%E8%B7%AF%E7%81%AF%E4%B8%8D%E4%BA%AE%203"), ["路灯不亮 3"]);
    assert_eq!(search("%E8%B7%AF%E7%81%AF").len() as u64, total, "路灯");
    let (_, counted) = get_json_with(served, &format!("/api/v1/cases/count?{filter}&q=%E4%B8%8D%E4%BA%AE"), &as_county);
    assert_eq!(counted["count"].as_u64(), Some(total), "不亮");

    let tampered = URL_SAFE_NO_PAD.encode("1700000000000.x'; DROP TABLE cases");
    let refusals = [
        ("/api/v1/cases?stauts=closed", 400, "unknown_parameter"),
        ("/api/v1/cases?status=closed&status=reported", 400, "invalid_parameter"),
        ("/api/v1/cases?status=finished", 400, "invalid_parameter"),
        ("/api/v1/cases?limit=0", 400, "invalid_parameter"),
        ("/api/v1/cases?limit=1001", 400, "invalid_parameter"),
        ("/api/v1/cases?from=yesterday", 400, "invalid_parameter"),
        ("/api/v1/cases?overdue=maybe", 400, "invalid_parameter"),
        ("/api/v1/cases?grid=36", 400, "invalid_parameter"),
        ("/api/v1/cases?q=%E7%81%AF", 400, "invalid_parameter"),
        ("/api/v1/cases?q=%E7%81%AF%20%E4%BA%AE", 400, "invalid_parameter"),
        (&format!("/api/v1/cases?q={}", "ab".repeat(26)), 400, "invalid_parameter"),
        ("/api/v1/cases?cursor=not-base64!", 400, "invalid_cursor"),
        (&format!("/api/v1/cases?cursor={tampered}"), 400, "invalid_cursor"),
        ("/api/v1/cases?category=no.such", 400, "unknown_category"),
        ("/api/v1/cases?division=369999", 400, "unknown_division"),
        ("/api/v1/cases/count?limit=5", 400, "unknown_parameter"),
        ("/api/v1/cases/export?format=pdf", 400, "invalid_parameter"),
        ("/api/v1/cases/export?personal=true", 400, "reason_required"),
        ("/api/v1/cases/export?personal=yes&reason=%E5%9B%9E%E8%AE%BF", 400, "invalid_parameter"),
    ];
    for (path, expected_status, expected_code) in refusals {
        let (status, refused) = get_json_with(served, path, &as_county);
        assert_eq!((status, &refused["error"]["code"]), (expected_status, &expected_code.into()), "{path}: {refused}");
    }
    let admin = token(served, "admin");
    let (status, refused) = get_json_with(
        served,
        "/api/v1/cases/export?personal=true&reason=%E6%A0%B8%E6%9F%A5",
        &[("authorization", &admin)],
    );
    assert_eq!(
        (status, &refused["error"]["code"]),
        (403, &"forbidden".into()),
        "an administrator may not read contacts"
    );
    let (status, refused) = get_json(served, "/api/v1/cases");
    assert_eq!((status, &refused["error"]["code"]), (401, &"not_authenticated".into()));
}

/// The live stream of case actions, as the village's centre and its sibling see it: each only
/// its own village's cases.
fn check_events(served: &Served) {
    use std::io::BufRead;
    use std::sync::mpsc;
    let listen = |login: &str| {
        let token = token(served, login);
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let response =
            agent.get(&format!("{}/api/v1/events", served.base)).header("authorization", &token).call().unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert!(response.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/event-stream"));
        let (send, receive) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let reader = std::io::BufReader::new(response.into_body().into_reader());
            for line in reader.lines().map_while(Result::ok) {
                if let Some(data) = line.strip_prefix("data: ")
                    && send.send(data.to_owned()).is_err()
                {
                    break;
                }
            }
        });
        receive
    };
    let (village, sibling) = (listen("village"), listen("sibling"));
    let sibling_grid = served.runtime.block_on(served.store.grids("360302008201")).unwrap()[0].code.to_string();
    let report = |place: serde_json::Value| {
        let mut body =
            serde_json::json!({ "channel": "resident", "category": "dispute.neighbour", "description": "楼道堆物" });
        body.as_object_mut().unwrap().extend(place.as_object().unwrap().clone());
        let (status, created) = post(served, "/api/v1/cases", &[JSON], &body.to_string());
        assert_eq!(status, 201, "{created}");
        created["case"]["number"].as_str().unwrap().to_owned()
    };
    let here = report(serde_json::json!({ "lon": 113.8543, "lat": 27.6229 }));
    let there = report(serde_json::json!({ "grid": sibling_grid }));
    let first = |events: &mpsc::Receiver<String>| -> Value {
        serde_json::from_str(&events.recv_timeout(Duration::from_secs(10)).expect("an event")).unwrap()
    };
    let seen = first(&village);
    assert_eq!((&seen["number"], &seen["action"]), (&here.as_str().into(), &"report".into()), "{seen}");
    assert_eq!(first(&sibling)["number"], there.as_str(), "the sibling sees its own case first, not the other");
}

fn check_account_admin(served: &Served) {
    let admin = token(served, "admin");
    let county = token(served, "county");
    let as_admin = [JSON, ("authorization", admin.as_str())];
    let new = |login: &str, unit: &str| {
        serde_json::json!({ "login": login, "name": "新调度员", "unit": unit, "roles": ["centre_dispatcher"] })
            .to_string()
    };
    let (status, created) = post(served, "/api/v1/accounts", &as_admin, &new("new-dispatcher", "centre:360302008205"));
    assert_eq!(status, 201, "{created}");
    let first = created["first_password"].as_str().unwrap().to_owned();
    assert_eq!(created["account"]["must_change_password"], true);
    assert!(created["account"].get("password_hash").is_none());
    for (what, headers, body, expected_status, code) in [
        ("a dispatcher", vec![JSON, ("authorization", county.as_str())], new("x-1", "centre:360302"), 403, "forbidden"),
        ("another city", as_admin.to_vec(), new("x-2", "centre:3601"), 403, "forbidden"),
        ("a taken login", as_admin.to_vec(), new("village", "centre:360302"), 409, "already_exists"),
        ("a role that does not fit", as_admin.to_vec(), new("x-3", "grid:360302008205001"), 400, "role_unit_mismatch"),
        ("no account", vec![JSON], new("x-4", "centre:360302"), 401, "not_authenticated"),
    ] {
        let (status, answer) = post(served, "/api/v1/accounts", &headers, &body);
        assert_eq!((status, &answer["error"]["code"]), (expected_status, &code.into()), "{what}: {answer}");
    }
    let login = |password: &str| serde_json::json!({ "login": "new-dispatcher", "password": password }).to_string();
    let (status, refused) = post(served, "/api/v1/auth/login", &[JSON], &login(&first));
    assert_eq!((status, &refused["error"]["code"]), (403, &"password_change_required".into()));
    let change =
        serde_json::json!({ "login": "new-dispatcher", "old_password": first, "new_password": "萍乡调度-2026-新" });
    let (status, _) = post_raw(served, "/api/v1/auth/password", &[JSON], &change.to_string());
    assert_eq!(status, 204);
    let (status, _) = post(served, "/api/v1/auth/login", &[JSON], &login("萍乡调度-2026-新"));
    assert_eq!(status, 200);
    let (status, reset) = post(served, "/api/v1/accounts/new-dispatcher/reset-password", &as_admin, "");
    assert_eq!(status, 200, "{reset}");
    let (status, refused) = post(served, "/api/v1/auth/login", &[JSON], &login("萍乡调度-2026-新"));
    assert_eq!((status, &refused["error"]["code"]), (401, &"bad_credentials".into()), "the old password is gone");
    // A disabled account's token stops working at once; enabled again, it may log in.
    let department = token(served, "department");
    let (status, disabled) = post(served, "/api/v1/accounts/department/disable", &as_admin, "");
    assert_eq!((status, &disabled["disabled"]), (200, &true.into()), "{disabled}");
    let (status, refused) = get_json_with(served, "/api/v1/me", &[("authorization", &department)]);
    assert_eq!((status, &refused["error"]["code"]), (401, &"credential_revoked".into()), "{refused}");
    let login_department = serde_json::json!({ "login": "department", "password": DEMO_PASSWORD }).to_string();
    let (status, refused) = post(served, "/api/v1/auth/login", &[JSON], &login_department);
    assert_eq!((status, &refused["error"]["code"]), (403, &"account_disabled".into()), "{refused}");
    let (status, _) = post(served, "/api/v1/accounts/department/enable", &as_admin, "");
    assert_eq!(status, 200);
    let (status, _) = post(served, "/api/v1/auth/login", &[JSON], &login_department);
    assert_eq!(status, 200);
    let (status, refused) =
        post(served, "/api/v1/accounts/admin/disable", &[JSON, ("authorization", county.as_str())], "");
    assert_eq!((status, &refused["error"]["code"]), (403, &"forbidden".into()));

    let (status, listed) = get_json_with(served, "/api/v1/accounts", &[("authorization", &admin)]);
    assert_eq!(status, 200);
    let logins: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["login"].as_str().unwrap()).collect();
    assert!(logins.contains(&"new-dispatcher") && !logins.contains(&"resident"), "{logins:?}");
}

/// The value of `name="csrf"` in a page.
fn csrf_field(html: &str) -> String {
    let start = html.find(r#"name="csrf" value=""#).expect("a CSRF field") + r#"name="csrf" value=""#.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The web UI's login and logout forms, each bound to a CSRF token.
fn check_login_page(served: &Served) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let form = |path: &str, cookie: &str, body: String| {
        let mut response = agent
            .post(&format!("{}{path}", served.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookie)
            .send(&body)
            .unwrap();
        let status = response.status().as_u16();
        let cookies: Vec<String> =
            response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
        (status, cookies, location, response.body_mut().read_to_string().unwrap())
    };
    let mut response = agent.get(&format!("{}/login", served.base)).call().unwrap();
    let pre_session =
        response.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = response.body_mut().read_to_string().unwrap();
    assert!(page.contains(r#"id="login-form""#));
    let csrf = csrf_field(&page);
    let credentials = |password: &str, csrf: &str| format!("csrf={csrf}&login=village&password={password}");

    // No pre-session cookie: the browser refused it (plain HTTP to another host); the page says so.
    let (status, _, _, page) = form("/login", "", credentials(DEMO_PASSWORD, &csrf));
    assert_eq!(status, 403, "no pre-session cookie");
    assert!(page.contains(r#"data-code="cookie_refused""#) && page.contains("HTTPS"), "{page}");
    let (status, _, _, page) = form("/login", &pre_session, credentials(DEMO_PASSWORD, "forged"));
    assert!(status == 403 && page.contains(r#"data-code="csrf_failed""#), "a forged token");
    let (status, _, _, page) = form("/login", &pre_session, credentials("wrong-password", &csrf));
    assert!(status == 401 && page.contains(r#"data-code="bad_credentials""#), "{status}");
    // Signed in, the person goes where they were sent from, if that is a page of this site.
    let to = |next: &str| format!("{}&next={next}", credentials(DEMO_PASSWORD, &csrf));
    for (next, expected) in [
        ("%2Fwork%3Fmine%3D1", "/work?mine=1"),
        ("%2F%2Fevil.example%2F", "/work"),
        ("https%3A%2F%2Fevil.example", "/work"),
    ] {
        let (status, _, location, _) = form("/login", &pre_session, to(next));
        assert_eq!((status, location.as_deref()), (303, Some(expected)), "next={next}");
    }
    let (status, cookies, location, _) = form("/login", &pre_session, credentials(DEMO_PASSWORD, &csrf));
    assert_eq!((status, location.as_deref()), (303, Some("/work")), "to the workbench by default");
    let session =
        cookies.iter().find(|c| c.starts_with("__Host-pingan_session=")).unwrap().split(';').next().unwrap().to_owned();
    // Without a session, a workbench page sends the person to log in, and back after; no cookie
    // is no refused credential, so the access log is not written.
    let log_length =
        || served.runtime.block_on(served.store.access_log("", Timestamp::from_millis(0), 100_000)).unwrap().len();
    let logged = log_length();
    let response = agent.get(&format!("{}/work/cases/3603-20260101-000001?x=1", served.base)).call().unwrap();
    assert_eq!(log_length(), logged, "a visit without a cookie is not a refused credential");
    let location = response.headers().get("location").map(|v| v.to_str().unwrap());
    assert_eq!(
        (response.status().as_u16(), location),
        (303, Some("/login?next=%2Fwork%2Fcases%2F3603-20260101-000001%3Fx%3D1"))
    );
    let (status, _, page) = get_with(served, "/work", &[("cookie", &session)]);
    assert!(status == 200 && page.contains(r#"id="queue""#) && page.contains("我的案件"), "{status} {page}");
    // A path nothing answers: a page that says so (in the frame, for someone signed in), or JSON
    // under /api/.
    let (status, _, page) = get_with(served, "/work/nothing-here", &[("cookie", &session)]);
    assert!(status == 404 && page.contains(r#"data-code="no_such_path""#) && page.contains(r#"id="signed-in""#));
    let (status, _, page) = get_with(served, "/nothing-here", &[]);
    assert!(status == 404 && page.contains(r#"data-code="no_such_path""#) && !page.contains(r#"id="signed-in""#));
    let (status, answer) = get_json(served, "/api/v1/nothing-here");
    assert_eq!((status, &answer["error"]["code"]), (404, &"no_such_path".into()), "{answer}");

    let (status, _, page) = get_with(served, "/login", &[("cookie", &session)]);
    assert!(status == 200 && page.contains(r#"data-login="village""#), "{page}");
    let session_csrf = csrf_field(&page);
    let (status, _, _, page) = form("/logout", &session, "csrf=forged".into());
    assert!(status == 403 && page.contains(r#"data-code="csrf_failed""#), "{status}");
    let (status, me) = get_json_with(served, "/api/v1/me", &[("cookie", &session)]);
    assert_eq!(status, 200, "a refused logout leaves the session: {me}");
    let (status, _, location, _) = form("/logout", &session, format!("csrf={session_csrf}"));
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
    let (status, me) = get_json_with(served, "/api/v1/me", &[("cookie", &session)]);
    assert_eq!((status, &me["error"]["code"]), (401, &"credential_revoked".into()));

    // A first password is changed through its own form before the login form lets its owner in.
    let admin = token(served, "admin");
    let account = serde_json::json!({ "login": "form-user", "name": "表单用户", "unit": "centre:360302", "roles": ["centre_dispatcher"] });
    let (_, created) = post(served, "/api/v1/accounts", &[JSON, ("authorization", &admin)], &account.to_string());
    let first = created["first_password"].as_str().unwrap().to_owned();
    let mut response = agent.get(&format!("{}/password", served.base)).call().unwrap();
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = csrf_field(&response.body_mut().read_to_string().unwrap());
    let change = |csrf: &str, new: &str| format!("csrf={csrf}&login=form-user&old_password={first}&new_password={new}");
    let (status, _, _, page) = form("/password", "", change(&csrf, "Xiangdong-2026"));
    assert!(status == 403 && page.contains(r#"data-code="cookie_refused""#), "{status}");
    let (status, _, _, page) = form("/password", &cookie, change(&csrf, "short"));
    assert!(status == 400 && page.contains(r#"data-code="weak_password""#), "{status}");
    let (status, _, _, page) = form("/password", &cookie, change(&csrf, "Xiangdong-2026"));
    assert!(status == 200 && page.contains(r#"id="password-changed""#), "{status}: {page}");
    let login = serde_json::json!({ "login": "form-user", "password": "Xiangdong-2026" }).to_string();
    assert_eq!(post(served, "/api/v1/auth/login", &[JSON], &login).0, 200);
}

fn post_bytes(served: &Served, path: &str, body: &[u8]) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut response =
        agent.post(&format!("{}{path}", served.base)).header("content-type", "image/png").send(body).unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")))
}

/// Photos: uploaded once by content, named by hash in reports; bad uploads and unknown hashes refused.
fn check_photo_api(served: &Served) {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(b"\0\0\0\rIHDR pixels of a pothole");
    let (status, uploaded) = post_bytes(served, "/api/v1/photos", &png);
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(uploaded["mime"], "image/png");
    let hash = uploaded["hash"].as_str().unwrap().to_owned();
    assert_eq!(hash.len(), 64);
    let (status, again) = post_bytes(served, "/api/v1/photos", &png);
    assert_eq!((status, &again["hash"]), (200, &Value::from(hash.clone())));

    let oversized = [png.clone(), vec![0u8; pingan_app::cases::photos::MAX_PHOTO_BYTES]].concat();
    for (what, body, expected_status, expected_code) in [
        ("text", b"hello, not a picture".to_vec(), 415, "unsupported_photo_type"),
        ("empty", Vec::new(), 415, "unsupported_photo_type"),
        ("oversized", oversized, 413, "photo_too_large"),
    ] {
        let (status, answer) = post_bytes(served, "/api/v1/photos", &body);
        assert_eq!((status, &answer["error"]["code"]), (expected_status, &expected_code.into()), "{what}: {answer}");
    }

    let report = |photos: Value| {
        serde_json::json!({
            "channel": "grid_patrol", "category": "livelihood.road_repair",
            "lon": 113.8543, "lat": 27.6229, "description": "路面坑洼", "photos": photos
        })
        .to_string()
    };
    let grid = token(served, "grid");
    let as_grid = [JSON, ("authorization", grid.as_str())];
    let (status, created) = post(served, "/api/v1/cases", &as_grid, &report(serde_json::json!([hash])));
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["case"]["photos"], serde_json::json!([hash]));
    // The photo is read through its case, by those who see the case and nobody else.
    let number = created["case"]["number"].as_str().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let photo = |who: Option<&str>, hash: &str| {
        let mut request = agent.get(&format!("{}/api/v1/cases/{number}/photos/{hash}", served.base));
        if let Some(token) = who {
            request = request.header("authorization", token);
        }
        let mut response = request.call().unwrap();
        let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), kind, response.body_mut().read_to_vec().unwrap())
    };
    let (status, kind, bytes) = photo(Some(&grid), &hash);
    assert_eq!((status, kind.as_deref(), bytes), (200, Some("image/png"), png.clone()));
    let sibling = token(served, "sibling");
    assert_eq!(photo(Some(&sibling), &hash).0, 404, "a centre that does not see the case");
    assert_eq!(photo(None, &hash).0, 404, "no account");
    let (status, _, missing) = photo(Some(&grid), &"0".repeat(64));
    let missing: Value = serde_json::from_slice(&missing).unwrap();
    assert_eq!((status, &missing["error"]["code"]), (404, &"unknown_photo".into()), "not a photo of this case");
    let unknown = "f".repeat(64);
    for (photos, code) in [
        (serde_json::json!([unknown]), "unknown_photo"),
        (serde_json::json!(["not-a-hash"]), "unknown_photo"),
        (serde_json::json!(vec![hash.clone(); 10]), "too_many_photos"),
    ] {
        let (status, answer) = post(served, "/api/v1/cases", &as_grid, &report(photos));
        assert_eq!((status, &answer["error"]["code"]), (400, &code.into()), "{answer}");
    }

    // Without an account, an address may send only so many reports and photos.
    let limited = (0..=100).find_map(|_| {
        let (status, answer) = post_bytes(served, "/api/v1/photos", &png);
        (status == 429).then_some(answer)
    });
    let limited = limited.expect("anonymous uploads are limited");
    assert_eq!(limited["error"]["code"], "rate_limited");
    // Behind the trusted proxy (loopback here), each client is counted by its forwarded address.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let upload_from = |forwarded: &str| {
        let request = agent.post(&format!("{}/api/v1/photos", served.base)).header("content-type", "image/png");
        request.header("x-forwarded-for", forwarded).send(&png[..]).unwrap().status().as_u16()
    };
    assert_eq!(upload_from("203.0.113.50"), 200, "another client behind the proxy");
    assert_eq!(upload_from("garbage"), 429, "an unreadable header is the proxy's own address");
    let (status, _) = get_json_with(
        served,
        "/api/v1/me",
        &[("authorization", "Bearer pa_forged"), ("x-forwarded-for", "198.51.100.77, 127.0.0.1")],
    );
    assert_eq!(status, 401);
    let log = served.runtime.block_on(served.store.access_log("", Timestamp::from_millis(0), 100_000)).unwrap();
    assert!(log.iter().any(|e| e.address.as_deref() == Some("198.51.100.77")), "the client, not the proxy, is logged");
    let (status, _) = post(served, "/api/v1/cases", &as_grid, &report(serde_json::json!([hash])));
    assert_eq!(status, 201, "an account is not limited");

    // Guessing case numbers without an account: each miss is logged, until the address's
    // allowance is spent; then the guesses are refused unlogged.
    let guesser = "203.0.113.61";
    let guesses: Vec<u16> = (1..=105)
        .map(|n| {
            let path = format!("/api/v1/cases/3603-20260101-{n:06}");
            get_json_with(served, &path, &[("x-follow-token", "pf_guess"), ("x-forwarded-for", guesser)]).0
        })
        .collect();
    assert_eq!(guesses.iter().filter(|&&s| s == 404).count(), 100, "{guesses:?}");
    assert!(guesses[100..].iter().all(|&s| s == 429), "{guesses:?}");
    let log = served.runtime.block_on(served.store.access_log("", Timestamp::from_millis(0), 100_000)).unwrap();
    let logged = log.iter().filter(|e| e.event == "refused_case" && e.address.as_deref() == Some(guesser)).count();
    assert_eq!(logged, 100);
}

/// Every check of the HTTP surface, in one table, on one server.
fn check_http_api(served: &Served, engine: &str) {
    let (status, health) = get_json(served, "/healthz");
    assert_eq!(status, 200);
    assert_eq!(health["engine"], engine);
    assert_eq!(health["grids"], served.grids);

    let (status, routed) = get_json(served, "/api/v1/route?lon=113.8543&lat=27.6229");
    assert_eq!(status, 200, "{routed}");
    assert_eq!(routed["chain"][1]["name"], "萍乡市");
    assert_eq!(routed["chain"][2]["code"], "360302");
    assert_eq!(routed["chain"].as_array().unwrap().len(), 5);
    let grid = routed["grid"]["code"].as_str().unwrap();
    assert!(grid.starts_with(routed["chain"][4]["code"].as_str().unwrap()));

    // Refusals: (query, status, code).
    let refusals = [
        ("?lon=115.8582&lat=28.6820", 404, "outside_served_area"),
        ("?lat=27.6", 400, "missing_parameter"),
        ("?lon=113.85", 400, "missing_parameter"),
        ("?lon=&lat=27.6", 400, "missing_parameter"),
        ("?lon=abc&lat=27.6", 400, "invalid_parameter"),
        ("?lon=113.8&lat=NaN", 400, "invalid_parameter"),
        ("?lon=1e999&lat=27.6", 400, "invalid_parameter"),
        ("?lon=181&lat=27.6", 400, "invalid_coordinates"),
        ("?lon=113.8&lat=-91", 400, "invalid_coordinates"),
    ];
    for (query, expected_status, expected_code) in refusals {
        let (status, body) = get_json(served, &format!("/api/v1/route{query}"));
        assert_eq!(status, expected_status, "{query}: {body}");
        assert_eq!(body["error"]["code"], expected_code, "{query}: {body}");
        assert!(!body["error"]["message_zh"].as_str().unwrap().is_empty());
        assert!(!body["error"]["message_en"].as_str().unwrap().is_empty());
    }
    let (_, outside) = get_json(served, "/api/v1/route?lon=115.8582&lat=28.6820");
    assert_eq!(outside["error"]["details"]["nearest"]["chain"][1]["name"], "萍乡市", "{outside}");

    let (status, page) = get(served, "/");
    assert_eq!(status, 200);
    assert_eq!(page.matches("<path data-grid=").count(), served.grids);
    assert_eq!(page.matches("<path data-division=").count(), 5, "萍乡's five counties are outlined");
    assert!(page.contains("湘东区") && page.contains("芦溪县"));
    let (_, page) = get(served, "/?lon=113.8543&lat=27.6229");
    assert!(page.contains(&format!(r#"id="route-result" data-grid="{grid}""#)));
    let (_, page) = get(served, "/?lon=abc&lat=1");
    assert!(page.contains(r#"data-code="invalid_parameter""#));
    let (status, _) = get(served, "/no/such/page");
    assert_eq!(status, 404);

    // Divisions, grids and categories: what a client needs for the map and the report form.
    let (status, division) = get_json(served, "/api/v1/divisions/360302008");
    assert_eq!(status, 200, "{division}");
    assert_eq!(division["ancestors"].as_array().unwrap().len(), 3, "province, city, county: {division}");
    assert_eq!(division["ancestors"][1]["name"], "萍乡市");
    assert!(division["children"].as_array().unwrap().iter().any(|c| c["code"] == "360302008205"));
    assert!(division["grids"].as_u64().unwrap() > 0);
    let (status, collection) = get_json(served, "/api/v1/divisions/360302008205/geojson");
    assert_eq!((status, &collection["type"]), (200, &"FeatureCollection".into()));
    let features = collection["features"].as_array().unwrap();
    assert_eq!(features.len() as u64, get_json(served, "/api/v1/divisions/360302008205").1["grids"].as_u64().unwrap());
    let ring = &features[0]["geometry"]["coordinates"][0][0];
    assert_eq!(ring[0], ring[ring.as_array().unwrap().len() - 1], "rings are closed");
    let (status, feature) = get_json(served, &format!("/api/v1/grids/{grid}"));
    assert_eq!((status, &feature["properties"]["code"]), (200, &grid.into()));
    assert_eq!(feature["geometry"]["type"], "MultiPolygon");
    let (status, book) = get_json(served, "/api/v1/categories");
    assert_eq!(status, 200);
    let road = book["categories"].as_array().unwrap().iter().find(|c| c["code"] == "livelihood.road_repair").unwrap();
    assert_eq!((&road["family"], &road["deadlines"][0]["priority"]), (&"livelihood".into(), &"normal".into()));
    assert!(road["deadlines"][0]["resolve_minutes"].as_i64().unwrap() > 0);
    let county = token(served, "county");
    let (status, units) = get_json_with(served, "/api/v1/units?division=360302", &[("authorization", &county)]);
    assert_eq!(status, 200);
    assert!(units.as_array().unwrap().iter().all(|u| u["division"].as_str().unwrap().starts_with("360302")));
    assert!(units.as_array().unwrap().iter().any(|u| u["kind"] == "department"), "{units}");
    for (path, expected_status, expected_code) in [
        ("/api/v1/divisions/369999", 404, "unknown_division"),
        ("/api/v1/divisions/x", 404, "unknown_division"),
        ("/api/v1/grids/360302008205999", 404, "unknown_grid"),
        ("/api/v1/grids/12", 400, "invalid_parameter"),
        ("/api/v1/units", 401, "not_authenticated"),
    ] {
        let (status, refused) = get_json(served, path);
        assert_eq!((status, &refused["error"]["code"]), (expected_status, &expected_code.into()), "{path}: {refused}");
    }

    // The OpenAPI document served is the one in docs/, and the reference page shows every operation.
    let (status, served_document) = get_json(served, "/api/v1/openapi.json");
    assert_eq!(status, 200);
    let snapshot = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json")).unwrap();
    assert!(
        served_document == serde_json::from_str::<Value>(&snapshot).unwrap(),
        "docs/openapi.json is not what is served"
    );
    let (status, reference) = get(served, "/api/docs");
    assert_eq!(status, 200);
    assert!(!reference.contains("<script"), "no script");
    for (path, item) in served_document["paths"].as_object().unwrap() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(reference.contains(&format!(r#"id="{id}""#)), "{path}: {id} is not on the page");
        }
    }
    assert!(reference.contains(r#"id="schema-CaseView""#) && reference.contains("<code>in_progress</code>"));

    // A grid imported while the server runs is routed to once the server notices the change.
    let nanchang = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"360102002001001","name":"民巷第1网格"},
        "geometry":{"type":"Polygon","coordinates":[[[115.85,28.67],[115.87,28.67],[115.87,28.69],[115.85,28.69],[115.85,28.67]]]}}]}"#;
    served.runtime.block_on(import_grids(served.store.as_ref(), nanchang.as_bytes())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get_json(served, "/api/v1/route?lon=115.8582&lat=28.6820");
        if status == 200 {
            assert_eq!(body["grid"]["code"], "360102002001001");
            assert_eq!(body["chain"][1]["name"], "南昌市");
            break;
        }
        assert!(Instant::now() < deadline, "the server never picked up the new grid: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, health) = get_json(served, "/healthz");
    assert_eq!(health["grids"], served.grids + 1);
}

/// An import: every report a case in one transaction, or none (the first bad one named); a retry
/// with the same key makes no twins; only roles that import may.
fn check_case_import(served: &Served) {
    let county = token(served, "county");
    let auth = ("authorization", county.as_str());
    let report = |i: usize| {
        json!({ "channel": "batch_import", "category": "livelihood.sanitation", "lon": 113.8543, "lat": 27.6229,
            "description": format!("普查发现垃圾堆放 {i}") })
    };
    let count_imported = || {
        let (status, counted) = get_json_with(served, "/api/v1/cases/count?channel=batch_import", &[auth]);
        assert_eq!(status, 200, "{counted}");
        counted["count"].as_u64().unwrap()
    };

    // Refused whole: nothing is written, and the answer names the report at fault.
    let with = |field: &str, value: Value| {
        let mut changed = report(0);
        changed[field] = value;
        changed
    };
    let unplaced = json!({ "channel": "batch_import", "category": "livelihood.sanitation", "address": "火星", "description": "?" });
    for (reports, status, code, index) in [
        (vec![report(0), report(1), with("lat", 39.9087.into())], 422, "outside_served_area", 2),
        (vec![with("category", "no.such".into()), report(1)], 400, "unknown_category", 0),
        (vec![report(0), unplaced], 422, "address_not_placed", 1),
        (vec![report(0), report(1), report(2), with("channel", "resident".into())], 403, "channel_not_allowed", 3),
    ] {
        let (got, refused) =
            post(served, "/api/v1/cases/import", &[JSON, auth], &json!({ "reports": reports }).to_string());
        assert_eq!((got, refused["error"]["code"].as_str()), (status, Some(code)), "{refused}");
        assert_eq!(refused["error"]["details"]["index"], index, "{refused}");
        assert!(refused["error"]["message_zh"].as_str().unwrap().starts_with(&format!("第 {} 条", index + 1)));
    }
    let too_many = json!({ "reports": vec![report(0); 10_001] }).to_string();
    for (body, headers, status, code) in [
        (json!({ "reports": [] }).to_string(), vec![JSON, auth], 400, "invalid_parameter"),
        (too_many, vec![JSON, auth], 400, "invalid_parameter"),
        (json!({ "reports": [report(0)], "extra": 1 }).to_string(), vec![JSON, auth], 400, "malformed_json"),
        ("{\"reports\": [".to_owned(), vec![JSON, auth], 400, "malformed_json"),
        (format!("{{\"reports\": \"{}\"}}", "x".repeat(16 << 20)), vec![JSON, auth], 413, "body_too_large"),
        (json!({ "reports": [report(0)] }).to_string(), vec![auth], 415, "unsupported_media_type"),
        (json!({ "reports": [report(0)] }).to_string(), vec![JSON], 401, "not_authenticated"),
    ] {
        let (got, refused) = post(served, "/api/v1/cases/import", &headers, &body);
        assert_eq!((got, refused["error"]["code"].as_str()), (status, Some(code)), "{refused}");
    }
    let hotline = token(served, "hotline");
    let (got, refused) = post(
        served,
        "/api/v1/cases/import",
        &[JSON, ("authorization", &hotline)],
        &json!({ "reports": [report(0)] }).to_string(),
    );
    assert_eq!((got, refused["error"]["code"].as_str()), (403, Some("channel_not_allowed")), "{refused}");
    assert_eq!(count_imported(), 0, "nothing refused was written");

    // Accepted: routed, numbered and dispatched like single reports; a retry answers the same cases.
    let reports: Vec<Value> = (0..300).map(report).collect();
    let body = json!({ "reports": reports }).to_string();
    let keyed = [JSON, auth, ("idempotency-key", "survey-2026-11")];
    let (status, imported) = post(served, "/api/v1/cases/import", &keyed, &body);
    assert_eq!(status, 201, "{imported}");
    assert_eq!((imported["created"].as_u64(), imported["existing"].as_u64()), (Some(300), Some(0)));
    let cases = imported["cases"].as_array().unwrap();
    assert!(cases.iter().all(|c| c["division"].as_str().unwrap().starts_with("360302") && c["number"].is_string()));
    assert!(
        cases[299]["possible_duplicates"].as_array().is_some_and(|d| !d.is_empty()),
        "the same spot, the same matter"
    );
    let (status, again) = post(served, "/api/v1/cases/import", &keyed, &body);
    assert_eq!((status, again["created"].as_u64(), again["existing"].as_u64()), (201, Some(0), Some(300)), "{again}");
    assert_eq!(again["cases"][7]["id"], cases[7]["id"]);
    assert_eq!(count_imported(), 300);
    let (status, case) = get_json_with(served, &format!("/api/v1/cases/{}", cases[0]["id"].as_str().unwrap()), &[auth]);
    assert_eq!((status, &case["channel"]), (200, &"batch_import".into()), "{case}");
}

#[test]
fn http_api_on_sqlite() {
    check_http_api(&served(Engine::Sqlite), "sqlite");
}

#[test]
fn http_api_on_postgres() {
    check_http_api(&served(Engine::Postgres), "postgres");
}

#[test]
fn case_api_on_sqlite() {
    let served = served(Engine::Sqlite);
    check_case_api(&served);
    // The raw database files (with the write-ahead log) hold the reporter's phone number nowhere.
    for file in std::fs::read_dir(served.database.sqlite_directory().unwrap()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!bytes.windows(11).any(|w| w == b"13812345678"), "a phone number in the clear on disk");
    }
}

#[test]
fn case_api_on_postgres() {
    check_case_api(&served(Engine::Postgres));
}

/// A test of `check` on each engine, each on a server of its own.
macro_rules! on_both_engines {
    ($($behaviour:ident => $check:ident;)*) => {$(
        mod $behaviour {
            #[test]
            fn on_sqlite() {
                super::$check(&pingan_test_support::served(pingan_test_support::Engine::Sqlite));
            }

            #[test]
            fn on_postgres() {
                super::$check(&pingan_test_support::served(pingan_test_support::Engine::Postgres));
            }
        }
    )*};
}

on_both_engines! {
    case_lists => check_case_lists;
    case_import => check_case_import;
    events => check_events;
    account_admin => check_account_admin;
    login_page => check_login_page;
    photo_api => check_photo_api;
}

/// The pages as the browser renders them (the server's pages do not depend on the engine).
#[test]
fn pages_in_chromium() {
    check_page_in_chromium(&served(Engine::Sqlite));
}

/// The DOM headless Chromium builds for `path`.
fn chromium_dom(served: &Served, path: &str) -> String {
    let chromium = std::env::var("PINGAN_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("{}{path}", served.base))
        .output()
        .unwrap_or_else(|e| panic!("headless Chromium ({chromium}) is needed for this test: {e}"));
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Renders the home page and the login page in headless Chromium (under the server's content
/// security policy) and reads back the DOM it built.
fn check_page_in_chromium(served: &Served) {
    let dom = chromium_dom(served, "/?lon=113.8543&lat=27.6229");
    assert_eq!(dom.matches("<path data-grid=").count(), served.grids, "the browser's DOM holds every grid");
    assert!(dom.contains(r#"id="marker""#));
    assert!(dom.contains(r#"id="route-result""#));
    assert!(dom.contains("萍乡市"));
    let login = chromium_dom(served, "/login");
    assert!(login.contains(r#"id="login-form""#) && login.contains(r#"type="password""#), "{login}");
}
