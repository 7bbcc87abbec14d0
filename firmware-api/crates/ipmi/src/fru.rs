//! FRU inventory decoding (IPMI Platform Management FRU Information Storage
//! Definition v1.0): the common header and the chassis, board and product info
//! areas, which carry the asset information (manufacturer, serial numbers,
//! asset tag) an operator wants next to the configured `asset_info`.
//!
//! A bad area checksum or a malformed field makes that area absent with a
//! warning; the other areas are still reported.

use serde::Serialize;

/// Offsets of the areas in the common header, in bytes; 0 = absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CommonHeader {
    pub internal_use: usize,
    pub chassis: usize,
    pub board: usize,
    pub product: usize,
    pub multi_record: usize,
}

impl CommonHeader {
    pub(crate) fn decode(h: &[u8]) -> Result<Self, String> {
        if h.len() < 8 {
            return Err(format!(
                "FRU common header is {} bytes, expected 8",
                h.len()
            ));
        }
        if h[0] & 0x0F != 0x01 {
            return Err(format!(
                "FRU common header format version 0x{:02x}, expected 0x01 (not a FRU image?)",
                h[0]
            ));
        }
        if zero_sum(&h[..8]) != 0 {
            return Err("FRU common header checksum is wrong".into());
        }
        Ok(CommonHeader {
            internal_use: h[1] as usize * 8,
            chassis: h[2] as usize * 8,
            board: h[3] as usize * 8,
            product: h[4] as usize * 8,
            multi_record: h[5] as usize * 8,
        })
    }

    /// (offset, name) of the info areas we decode, present ones only.
    pub(crate) fn info_areas(&self) -> Vec<(usize, &'static str)> {
        [
            (self.chassis, "chassis"),
            (self.board, "board"),
            (self.product, "product"),
        ]
        .into_iter()
        .filter(|(o, _)| *o != 0)
        .collect()
    }
}

fn zero_sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChassisInfo {
    pub chassis_type: u8,
    pub chassis_type_name: &'static str,
    pub part_number: String,
    pub serial_number: String,
    pub custom: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BoardInfo {
    /// ISO 8601 UTC, `None` when the FRU says "unspecified".
    pub manufactured: Option<String>,
    pub manufacturer: String,
    pub product_name: String,
    pub serial_number: String,
    pub part_number: String,
    pub fru_file_id: String,
    pub custom: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductInfo {
    pub manufacturer: String,
    pub product_name: String,
    pub part_number: String,
    pub version: String,
    pub serial_number: String,
    pub asset_tag: String,
    pub fru_file_id: String,
    pub custom: Vec<String>,
}

/// The decoded info areas of one FRU device.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct FruInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chassis: Option<ChassisInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub board: Option<BoardInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<ProductInfo>,
    /// Areas that were present but could not be decoded, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Area length in bytes from its first two bytes (version, length in 8-byte units).
pub(crate) fn area_length(first_two: &[u8]) -> Result<usize, String> {
    if first_two.len() < 2 {
        return Err("FRU area truncated before its length byte".into());
    }
    if first_two[0] & 0x0F != 0x01 {
        return Err(format!(
            "FRU area format version 0x{:02x}, expected 0x01",
            first_two[0]
        ));
    }
    match first_two[1] as usize * 8 {
        0 => Err("FRU area length is 0".into()),
        n => Ok(n),
    }
}

/// Decodes a whole FRU image (header at offset 0). Missing bytes at the end
/// make the affected areas warnings rather than a failure of the whole image.
pub fn decode(image: &[u8]) -> Result<FruInfo, String> {
    let header = CommonHeader::decode(image)?;
    let mut info = FruInfo::default();
    for (offset, name) in header.info_areas() {
        let area = image
            .get(offset..)
            .ok_or_else(|| {
                format!(
                    "{name} area offset {offset} is beyond the {}-byte FRU",
                    image.len()
                )
            })
            .and_then(|rest| {
                let len = area_length(rest)?;
                rest.get(..len).ok_or_else(|| {
                    format!("{name} area ({len} bytes at {offset}) runs past the end of the FRU")
                })
            });
        let result = area.and_then(|a| {
            if zero_sum(a) != 0 {
                return Err(format!("{name} area checksum is wrong"));
            }
            match name {
                "chassis" => decode_chassis(a).map(|c| info.chassis = Some(c)),
                "board" => decode_board(a).map(|b| info.board = Some(b)),
                _ => decode_product(a).map(|p| info.product = Some(p)),
            }
        });
        if let Err(e) = result {
            info.warnings.push(e);
        }
    }
    Ok(info)
}

/// Walks the type/length-encoded fields of an area body.
struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
    english: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8], pos: usize, english: bool) -> Self {
        Fields {
            bytes,
            pos,
            english,
        }
    }

    /// Next field; `Ok(None)` at the end-of-fields marker 0xC1.
    fn next(&mut self) -> Result<Option<String>, String> {
        let Some(&tl) = self.bytes.get(self.pos) else {
            return Err("FRU area ends without the end-of-fields marker (0xC1)".into());
        };
        if tl == 0xC1 {
            return Ok(None);
        }
        let len = (tl & 0x3F) as usize;
        let start = self.pos + 1;
        let Some(data) = self.bytes.get(start..start + len) else {
            return Err(format!(
                "FRU field at byte {} runs past the end of its area",
                self.pos
            ));
        };
        self.pos = start + len;
        Ok(Some(decode_text(tl >> 6, data, self.english)))
    }

    /// Next mandatory field (an early end marker is an error).
    fn required(&mut self, what: &str) -> Result<String, String> {
        self.next()?
            .ok_or_else(|| format!("FRU area ends before its {what} field"))
    }

    /// All remaining custom fields up to the end marker.
    fn rest(&mut self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        while let Some(f) = self.next()? {
            out.push(f);
            if out.len() > 64 {
                return Err("FRU area has more than 64 custom fields".into());
            }
        }
        Ok(out)
    }
}

/// Decodes field data by its type bits: 0 binary (hex), 1 BCD plus, 2 6-bit packed
/// ASCII, 3 8-bit text (Latin-1 for English, UTF-16LE otherwise).
pub fn decode_text(kind: u8, data: &[u8], english: bool) -> String {
    match kind {
        0 => data.iter().map(|b| format!("{b:02x}")).collect(),
        1 => data
            .iter()
            .flat_map(|b| [b >> 4, b & 0x0F])
            .map(|n| match n {
                0..=9 => (b'0' + n) as char,
                0x0A => ' ',
                0x0B => '-',
                0x0C => '.',
                _ => '?',
            })
            .collect::<String>()
            .trim_end()
            .to_string(),
        2 => {
            let mut out = String::new();
            for chunk in data.chunks(3) {
                let mut v = 0u32;
                for (i, b) in chunk.iter().enumerate() {
                    v |= (*b as u32) << (8 * i);
                }
                // Only as many characters as the bytes present fully encode.
                let chars = chunk.len() * 8 / 6;
                for i in 0..chars {
                    out.push((((v >> (6 * i)) & 0x3F) as u8 + 0x20) as char);
                }
            }
            out.trim_end().to_string()
        }
        _ => if english || data.len() % 2 != 0 {
            data.iter().map(|b| *b as char).collect::<String>()
        } else {
            let units: Vec<u16> = data
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        .trim_end_matches('\0')
        .to_string(),
    }
}

fn is_english(language: u8) -> bool {
    language == 0 || language == 25
}

fn decode_chassis(a: &[u8]) -> Result<ChassisInfo, String> {
    let chassis_type = *a.get(2).ok_or("chassis area too short")?;
    let mut f = Fields::new(a, 3, true);
    Ok(ChassisInfo {
        chassis_type,
        chassis_type_name: chassis_type_name(chassis_type),
        part_number: f.required("chassis part number")?,
        serial_number: f.required("chassis serial number")?,
        custom: f.rest()?,
    })
}

fn decode_board(a: &[u8]) -> Result<BoardInfo, String> {
    if a.len() < 6 {
        return Err("board area too short".into());
    }
    let minutes = u32::from_le_bytes([a[3], a[4], a[5], 0]);
    let mut f = Fields::new(a, 6, is_english(a[2]));
    Ok(BoardInfo {
        manufactured: (minutes != 0).then(|| minutes_since_1996(minutes)),
        manufacturer: f.required("board manufacturer")?,
        product_name: f.required("board product name")?,
        serial_number: f.required("board serial number")?,
        part_number: f.required("board part number")?,
        fru_file_id: f.required("board FRU file id")?,
        custom: f.rest()?,
    })
}

fn decode_product(a: &[u8]) -> Result<ProductInfo, String> {
    let language = *a.get(2).ok_or("product area too short")?;
    let mut f = Fields::new(a, 3, is_english(language));
    Ok(ProductInfo {
        manufacturer: f.required("product manufacturer")?,
        product_name: f.required("product name")?,
        part_number: f.required("product part number")?,
        version: f.required("product version")?,
        serial_number: f.required("product serial number")?,
        asset_tag: f.required("product asset tag")?,
        fru_file_id: f.required("product FRU file id")?,
        custom: f.rest()?,
    })
}

/// Formats minutes since 1996-01-01 00:00 UTC as ISO 8601.
fn minutes_since_1996(minutes: u32) -> String {
    // 1996-01-01 is day 9496 of the Unix epoch.
    let total = minutes as i64;
    let days = 9496 + total / 1440;
    let (h, m) = ((total % 1440) / 60, total % 60);
    let (y, mo, d) = opendcre_proto::calendar::civil_from_days(days);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:00Z")
}

/// SMBIOS chassis types (FRU spec refers to SMBIOS Table 17).
pub fn chassis_type_name(t: u8) -> &'static str {
    match t {
        0x01 => "Other",
        0x02 => "Unknown",
        0x03 => "Desktop",
        0x04 => "Low Profile Desktop",
        0x05 => "Pizza Box",
        0x06 => "Mini Tower",
        0x07 => "Tower",
        0x08 => "Portable",
        0x09 => "LapTop",
        0x0A => "Notebook",
        0x0B => "Hand Held",
        0x0C => "Docking Station",
        0x0D => "All in One",
        0x0E => "Sub Notebook",
        0x0F => "Space-saving",
        0x10 => "Lunch Box",
        0x11 => "Main Server Chassis",
        0x12 => "Expansion Chassis",
        0x13 => "SubChassis",
        0x14 => "Bus Expansion Chassis",
        0x15 => "Peripheral Chassis",
        0x16 => "RAID Chassis",
        0x17 => "Rack Mount Chassis",
        0x18 => "Sealed-case PC",
        0x19 => "Multi-system Chassis",
        0x1A => "Compact PCI",
        0x1B => "Advanced TCA",
        0x1C => "Blade",
        0x1D => "Blade Enclosure",
        _ => "Unspecified",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds an area the way make_fru.py does.
    fn area(body: &[u8]) -> Vec<u8> {
        let mut a = vec![0x01, 0x00];
        a.extend_from_slice(body);
        a.push(0xC1);
        while (a.len() + 1) % 8 != 0 {
            a.push(0);
        }
        a[1] = ((a.len() + 1) / 8) as u8;
        a.push(zero_sum(&a).wrapping_neg());
        a
    }

    fn text(s: &str) -> Vec<u8> {
        let mut v = vec![0xC0 | s.len() as u8];
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn image() -> Vec<u8> {
        let chassis = area(
            &[
                &[0x17][..],
                &text("CH-1"),
                &[0x42, 0x12, 0x34],
                &text("extra"),
            ]
            .concat(),
        );
        let board = area(
            &[
                &[0x19, 0x70, 0xED, 0xA1][..],
                &text("Vapor IO"),
                &text("Board"),
                &text("SN-1"),
                // "BRD-42" in 6-bit packed ASCII
                &[0x86, 0xA2, 0x4C, 0x36, 0x94, 0x04, 0x00],
                &text(""),
            ]
            .concat(),
        );
        let product = area(
            &[
                &[0x19][..],
                &text("Vapor IO"),
                &text("Sim Server"),
                &text("PRD-7"),
                &text("1.0"),
                &text("PSN-1"),
                &text("TAG-1"),
                &text(""),
            ]
            .concat(),
        );
        let c = 1;
        let b = c + chassis.len() / 8;
        let p = b + board.len() / 8;
        let mut h = vec![0x01, 0, c as u8, b as u8, p as u8, 0, 0];
        h.push(zero_sum(&h).wrapping_neg());
        [h, chassis, board, product].concat()
    }

    #[test]
    fn decodes_all_areas() {
        let info = decode(&image()).unwrap();
        assert!(info.warnings.is_empty(), "{:?}", info.warnings);
        let c = info.chassis.unwrap();
        assert_eq!(
            (c.chassis_type_name, c.part_number.as_str()),
            ("Rack Mount Chassis", "CH-1")
        );
        assert_eq!(c.serial_number, "1234");
        assert_eq!(c.custom, ["extra"]);
        let b = info.board.unwrap();
        assert_eq!(b.manufacturer, "Vapor IO");
        assert_eq!(b.part_number, "BRD-42");
        assert_eq!(b.manufactured.as_deref(), Some("2016-03-05T12:00:00Z"));
        let p = info.product.unwrap();
        assert_eq!((p.asset_tag.as_str(), p.version.as_str()), ("TAG-1", "1.0"));
    }

    #[test]
    fn bad_area_checksum_is_a_warning_not_a_failure() {
        let mut img = image();
        img[12] ^= 0xFF; // inside the chassis area
        let info = decode(&img).unwrap();
        assert!(info.chassis.is_none());
        assert!(info.board.is_some() && info.product.is_some());
        assert_eq!(info.warnings, ["chassis area checksum is wrong"]);
    }

    #[test]
    fn truncated_image_reports_missing_areas() {
        let img = image();
        let info = decode(&img[..40]).unwrap();
        assert!(info.product.is_none());
        assert!(!info.warnings.is_empty());
    }

    #[test]
    fn header_errors() {
        assert!(decode(&[0u8; 8]).unwrap_err().contains("format version"));
        let mut img = image();
        img[7] ^= 1;
        assert!(decode(&img).unwrap_err().contains("checksum"));
        assert!(decode(&[1, 0, 0]).is_err());
    }

    #[test]
    fn text_encodings() {
        assert_eq!(
            decode_text(1, &[0x12, 0x34, 0xB5, 0x67, 0x8A], true),
            "1234-5678"
        );
        assert_eq!(decode_text(0, &[0xDE, 0xAD], true), "dead");
        assert_eq!(decode_text(3, b"abc\0\0", true), "abc");
        assert_eq!(decode_text(3, &[0x41, 0x00, 0x42, 0x00], false), "AB");
        // "IPMI" in 6-bit ASCII: I=0x29 P=0x30 M=0x2D I=0x29
        let v: u32 = 0x29 | (0x30 << 6) | (0x2D << 12) | (0x29 << 18);
        assert_eq!(decode_text(2, &v.to_le_bytes()[..3], true), "IPMI");
    }

    #[test]
    fn dates() {
        assert_eq!(minutes_since_1996(1), "1996-01-01T00:01:00Z");
        assert_eq!(minutes_since_1996(60 * 24 * 366), "1997-01-01T00:00:00Z");
    }
}
