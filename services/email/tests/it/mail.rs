//! Just enough RFC 5322 / MIME reading to check what arrived: headers,
//! multipart bodies and quoted-printable (lettre has no parser to reuse).

/// One message or MIME part.
#[derive(Debug)]
pub(crate) struct Mail {
    headers: Vec<(String, String)>,
    body: String,
}

impl Mail {
    pub(crate) fn parse(raw: &str) -> Self {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                // A folded header continues the previous one.
                let (_, value) = headers.last_mut().expect("continuation after a header");
                value.push(' ');
                value.push_str(line.trim());
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        Self {
            headers,
            body: body.to_owned(),
        }
    }

    /// The first header called `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The MIME type without parameters, lower case.
    pub(crate) fn mime_type(&self) -> String {
        self.header("Content-Type")
            .unwrap_or("text/plain")
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }

    /// The parts of a multipart body, in order.
    pub(crate) fn parts(&self) -> Vec<Mail> {
        let content_type = self.header("Content-Type").expect("a Content-Type");
        let boundary = content_type
            .split(';')
            .filter_map(|param| param.trim().strip_prefix("boundary="))
            .next()
            .expect("a boundary")
            .trim_matches('"');
        let open = format!("--{boundary}");
        let close = format!("--{boundary}--");
        let mut parts = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        for line in self.body.lines() {
            if line == open || line == close {
                if let Some(lines) = current.take() {
                    parts.push(Mail::parse(&lines.join("\n")));
                }
                if line == open {
                    current = Some(Vec::new());
                }
            } else if let Some(lines) = current.as_mut() {
                lines.push(line);
            }
        }
        parts
    }

    /// The body with its transfer encoding undone.
    pub(crate) fn decoded_body(&self) -> String {
        match self
            .header("Content-Transfer-Encoding")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("7bit" | "8bit") => self.body.clone(),
            Some("quoted-printable") => decode_quoted_printable(&self.body),
            Some(other) => panic!("unexpected transfer encoding {other}"),
        }
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ascii hex");
                out.push(u8::from_str_radix(hex, 16).expect("valid =XX escape"));
                i += 3;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("utf-8 body")
}

#[test]
fn decodes_quoted_printable() {
    assert_eq!(
        decode_quoted_printable("Total =E2=82=AC1.00 a=\nb =3D c"),
        "Total €1.00 ab = c"
    );
}
