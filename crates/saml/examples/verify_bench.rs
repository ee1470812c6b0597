//! Verifies one SAML response over and over on one thread and prints responses per
//! second: `verify_bench RESPONSE.xml CERT.pem SP_ENTITY_ID ACS_URL IDP_ENTITY_ID REQUEST_ID SECONDS`.
//! Used by `bench/saml_bench.py`, which compares it with `xmlsec1 --verify`.

use std::time::{Duration, Instant};
use vestibule_saml::{Expectations, IdpSettings, SamlVerifier, SpSettings, XmlSecVerifier, parse_certificate};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 8 {
        eprintln!("usage: verify_bench RESPONSE.xml CERT.pem SP_ENTITY_ID ACS_URL IDP_ENTITY_ID REQUEST_ID SECONDS");
        std::process::exit(2);
    }
    let xml = std::fs::read_to_string(&args[1]).expect("response file");
    let cert = parse_certificate(&std::fs::read_to_string(&args[2]).expect("certificate file")).expect("certificate");
    let sp = SpSettings {
        entity_id: args[3].clone(),
        acs_url: args[4].clone(),
        metadata_url: args[3].clone(),
        encryption: None,
    };
    let idp =
        IdpSettings { entity_id: args[5].clone(), sso_url: "https://idp.invalid/sso".into(), certificates: vec![cert] };
    let seconds: f64 = args[7].parse().expect("seconds");
    let expect = Expectations { sp: &sp, idp: &idp, request_id: Some(&args[6]), clock_skew_secs: 60 };
    let verifier = XmlSecVerifier;
    verifier.verify(&xml, &expect).expect("the response verifies");
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        verifier.verify(&xml, &expect).expect("the response verifies");
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("{{\"verified\": {n}, \"per_second\": {rate:.1}}}");
}
