//! The cryptographic primitives IPMI uses, behind small functions so that the
//! packet code reads like the specification and the tests can pin each one to
//! published vectors.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::Digest;

type HmacSha1 = Hmac<sha1::Sha1>;
type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// MD5 over the concatenation of `parts`.
pub fn md5(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = md5::Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// MD2 over the concatenation of `parts` (IPMI v1.5 auth type 1).
pub(crate) fn md2(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = md2::Md2::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC-SHA1 keyed with `key` over the concatenation of `parts`.
pub(crate) fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> [u8; 20] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = <HmacSha1 as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// AES-128-CBC encryption of whole blocks (IPMI does its own padding, §13.29).
///
/// Returns `None` if `data` is not a multiple of 16 bytes.
pub(crate) fn aes128_cbc_encrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() % 16 != 0 {
        return None;
    }
    let mut buf = data.to_vec();
    let mut enc = Aes128CbcEnc::new(key.into(), iv.into());
    for block in buf.chunks_exact_mut(16) {
        enc.encrypt_block_mut(block.into());
    }
    Some(buf)
}

/// AES-128-CBC decryption of whole blocks; `None` if `data` is not block aligned.
pub(crate) fn aes128_cbc_decrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Option<Vec<u8>> {
    if data.len() % 16 != 0 {
        return None;
    }
    let mut buf = data.to_vec();
    let mut dec = Aes128CbcDec::new(key.into(), iv.into());
    for block in buf.chunks_exact_mut(16) {
        dec.decrypt_block_mut(block.into());
    }
    Some(buf)
}

/// Constant-time comparison, so auth-code checks do not leak how many bytes matched.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Fills a buffer from the operating system's CSPRNG-seeded generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn md5_rfc1321_vectors() {
        assert_eq!(
            md5(&[b""]).to_vec(),
            unhex("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(
            md5(&[b"message ", b"digest"]).to_vec(),
            unhex("f96b697d7cb7938d525a2f31aaf161d0")
        );
    }

    #[test]
    fn md2_rfc1319_vectors() {
        assert_eq!(
            md2(&[b""]).to_vec(),
            unhex("8350e5a3e24c153df2275c9f80692773")
        );
        assert_eq!(
            md2(&[b"abc"]).to_vec(),
            unhex("da853b0d3f88d99b30283a69e6ded6bb")
        );
        assert_eq!(
            md2(&[b"message digest"]).to_vec(),
            unhex("ab4f496bfb2a530b219ff33031fe06b0")
        );
        assert_eq!(
            md2(&[b"abcdefghijklmnopqrstuvwxyz"]).to_vec(),
            unhex("4e8ddff3650292ab5a4108c3aa47940b")
        );
    }

    #[test]
    fn hmac_sha1_rfc2202_vectors() {
        // Test case 1: key = 0x0b * 20, data = "Hi There".
        assert_eq!(
            hmac_sha1(&[0x0b; 20], &[b"Hi There"]).to_vec(),
            unhex("b617318655057264e28bc0b6fb378c8ef146be00")
        );
        // Test case 2: key = "Jefe", data split across parts.
        assert_eq!(
            hmac_sha1(b"Jefe", &[b"what do ya want ", b"for nothing?"]).to_vec(),
            unhex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
    }

    #[test]
    fn aes128_cbc_sp800_38a_vector_round_trip() {
        // NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, first two blocks.
        let key: [u8; 16] = unhex("2b7e151628aed2a6abf7158809cf4f3c")
            .try_into()
            .unwrap();
        let iv: [u8; 16] = unhex("000102030405060708090a0b0c0d0e0f")
            .try_into()
            .unwrap();
        let plain = unhex("6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51");
        let cipher = unhex("7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2");
        assert_eq!(aes128_cbc_encrypt(&key, &iv, &plain).unwrap(), cipher);
        assert_eq!(aes128_cbc_decrypt(&key, &iv, &cipher).unwrap(), plain);
        assert!(aes128_cbc_encrypt(&key, &iv, &plain[..15]).is_none());
        assert!(aes128_cbc_decrypt(&key, &iv, &cipher[..17]).is_none());
    }

    #[test]
    fn ct_eq_compares_content_and_length() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
