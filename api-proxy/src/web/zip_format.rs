//! The bytes of a STORE zip around its files' contents: local headers, data
//! descriptors, the central directory and its end (PKWARE's APPNOTE 6.3).
//! Every header's length depends only on the entry's name and size and on
//! where it lies, never on the content's CRC, so [`archive_len`] computes
//! the whole archive's length from the listing, before a byte is read, with
//! the very functions that write it: the length cannot drift from the bytes.
//!
//! * Files with content are written before their CRC is known: flag bit 3,
//!   zeros in the local header, the CRC and sizes in a data descriptor after
//!   the bytes. Folders and empty files have nothing to follow: their header
//!   holds the (zero) CRC and sizes, and no descriptor.
//! * zip64 where the 32-bit fields cannot hold a value: a file of
//!   `u32::MAX` bytes or more carries the zip64 extra field in both headers
//!   (and 8-byte sizes in its descriptor), an entry starting past 4 GiB has
//!   its offset there, and the archive ends with the zip64 end records when
//!   its entry count or directory's place or size overflow.
//! * Names are UTF-8, flagged (bit 11) when not plain ASCII; made by Unix,
//!   files `0644`, folders `0755` and the MS-DOS folder attribute; times in
//!   the MS-DOS format, UTC.

use bytes::{BufMut, BytesMut};
use nimbus_protocol::rpc::TimestampMillis;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const ZIP64_END: u32 = 0x0606_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const END: u32 = 0x0605_4b50;
const ZIP64_EXTRA: u16 = 0x0001;
/// Bit 3: CRC and sizes follow the data.
const FLAG_DESCRIPTOR: u16 = 1 << 3;
/// Bit 11: the name is UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
/// 2.0: folders, STORE; 4.5: zip64.
const VERSION: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// Made by Unix (3), format 4.5.
const MADE_BY: u16 = (3 << 8) | VERSION_ZIP64;
/// A 32-bit field that overflowed: the value is in the zip64 field.
const MAX32: u64 = 0xFFFF_FFFF;
const MAX16: u64 = 0xFFFF;
const FILE_MODE: u32 = 0o100_644;
const FOLDER_MODE: u32 = 0o040_755;
const MS_DOS_FOLDER: u32 = 0x10;

/// What the headers say of one entry.
#[derive(Debug, Clone, Copy)]
pub struct ZipEntry<'a> {
    /// The path in the archive, `/` between folders (no trailing `/`).
    pub name: &'a str,
    pub modified: TimestampMillis,
    pub is_folder: bool,
    pub size: u64,
}

impl ZipEntry<'_> {
    /// Whether a descriptor follows the data (the CRC is not known before).
    fn has_descriptor(&self) -> bool {
        self.size > 0
    }

    /// Whether the sizes need the zip64 field.
    fn is_large(&self) -> bool {
        self.size >= MAX32
    }

    fn flags(&self) -> u16 {
        let utf8 = if self.name.is_ascii() { 0 } else { FLAG_UTF8 };
        let descriptor = if self.has_descriptor() {
            FLAG_DESCRIPTOR
        } else {
            0
        };
        utf8 | descriptor
    }

    fn version_needed(&self, zip64: bool) -> u16 {
        if zip64 { VERSION_ZIP64 } else { VERSION }
    }

    fn name_len(&self) -> usize {
        self.name.len() + usize::from(self.is_folder)
    }

    fn put_name(&self, out: &mut BytesMut) {
        out.put_slice(self.name.as_bytes());
        if self.is_folder {
            out.put_u8(b'/');
        }
    }
}

/// MS-DOS time and date of `millis`, UTC; 1980-01-01 00:00 when outside
/// the years the format can hold (1980–2107).
fn dos_time(millis: TimestampMillis) -> (u16, u16) {
    const EPOCH: (u16, u16) = (0, (1 << 5) | 1);
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000)) else {
        return EPOCH;
    };
    if !(1980..=2107).contains(&t.year()) {
        return EPOCH;
    }
    let time =
        (u16::from(t.hour()) << 11) | (u16::from(t.minute()) << 5) | u16::from(t.second() / 2);
    let date = (((t.year() - 1980) as u16) << 9)
        | (u16::from(u8::from(t.month())) << 5)
        | u16::from(t.day());
    (time, date)
}

fn u32_or_max(value: u64) -> u32 {
    u32::try_from(value.min(MAX32)).expect("clamped")
}

/// The local header of `entry`, before its bytes.
pub fn local_header(entry: &ZipEntry<'_>, out: &mut BytesMut) {
    let large = entry.is_large();
    let (time, date) = dos_time(entry.modified);
    out.put_u32_le(LOCAL_HEADER);
    out.put_u16_le(entry.version_needed(large));
    out.put_u16_le(entry.flags());
    out.put_u16_le(0); // STORE
    out.put_u16_le(time);
    out.put_u16_le(date);
    // The CRC and sizes are in the descriptor (or zero, and known).
    out.put_u32_le(0);
    let size = if large { u32::MAX } else { 0 };
    out.put_u32_le(size);
    out.put_u32_le(size);
    out.put_u16_le(entry.name_len() as u16);
    out.put_u16_le(if large { 20 } else { 0 });
    entry.put_name(out);
    if large {
        out.put_u16_le(ZIP64_EXTRA);
        out.put_u16_le(16);
        out.put_u64_le(0);
        out.put_u64_le(0);
    }
}

/// The data descriptor after the bytes of `entry`, whose CRC is `crc`
/// (nothing for an entry without content).
pub fn data_descriptor(entry: &ZipEntry<'_>, crc: u32, out: &mut BytesMut) {
    if !entry.has_descriptor() {
        return;
    }
    out.put_u32_le(DATA_DESCRIPTOR);
    out.put_u32_le(crc);
    if entry.is_large() {
        out.put_u64_le(entry.size);
        out.put_u64_le(entry.size);
    } else {
        out.put_u32_le(u32_or_max(entry.size));
        out.put_u32_le(u32_or_max(entry.size));
    }
}

/// The central directory's header of `entry`, whose local header is at
/// `offset`.
pub fn central_header(entry: &ZipEntry<'_>, crc: u32, offset: u64, out: &mut BytesMut) {
    let large = entry.is_large();
    let far = offset >= MAX32;
    let extra_len = 8 * (2 * usize::from(large) + usize::from(far));
    let (time, date) = dos_time(entry.modified);
    out.put_u32_le(CENTRAL_HEADER);
    out.put_u16_le(MADE_BY);
    out.put_u16_le(entry.version_needed(large || far));
    out.put_u16_le(entry.flags());
    out.put_u16_le(0); // STORE
    out.put_u16_le(time);
    out.put_u16_le(date);
    out.put_u32_le(crc);
    out.put_u32_le(u32_or_max(entry.size));
    out.put_u32_le(u32_or_max(entry.size));
    out.put_u16_le(entry.name_len() as u16);
    out.put_u16_le(if extra_len > 0 {
        4 + extra_len as u16
    } else {
        0
    });
    out.put_u16_le(0); // comment
    out.put_u16_le(0); // disk
    out.put_u16_le(0); // internal attributes
    out.put_u32_le(if entry.is_folder {
        (FOLDER_MODE << 16) | MS_DOS_FOLDER
    } else {
        FILE_MODE << 16
    });
    out.put_u32_le(u32_or_max(offset));
    entry.put_name(out);
    if extra_len > 0 {
        out.put_u16_le(ZIP64_EXTRA);
        out.put_u16_le(extra_len as u16);
        if large {
            out.put_u64_le(entry.size);
            out.put_u64_le(entry.size);
        }
        if far {
            out.put_u64_le(offset);
        }
    }
}

/// The end of the archive: `count` entries whose directory of `size`
/// bytes starts at `offset`.
pub fn end(count: u64, offset: u64, size: u64, out: &mut BytesMut) {
    if count >= MAX16 || offset >= MAX32 || size >= MAX32 {
        let zip64_end = offset + size;
        out.put_u32_le(ZIP64_END);
        out.put_u64_le(44); // the record's size after this field
        out.put_u16_le(MADE_BY);
        out.put_u16_le(VERSION_ZIP64);
        out.put_u32_le(0); // this disk
        out.put_u32_le(0); // the directory's disk
        out.put_u64_le(count);
        out.put_u64_le(count);
        out.put_u64_le(size);
        out.put_u64_le(offset);
        out.put_u32_le(ZIP64_LOCATOR);
        out.put_u32_le(0);
        out.put_u64_le(zip64_end);
        out.put_u32_le(1); // disks
    }
    let count16 = u16::try_from(count.min(MAX16)).expect("clamped");
    out.put_u32_le(END);
    out.put_u16_le(0);
    out.put_u16_le(0);
    out.put_u16_le(count16);
    out.put_u16_le(count16);
    out.put_u32_le(u32_or_max(size));
    out.put_u32_le(u32_or_max(offset));
    out.put_u16_le(0); // comment
}

/// How many bytes `write` puts out.
fn len_of(scratch: &mut BytesMut, write: impl FnOnce(&mut BytesMut)) -> u64 {
    scratch.clear();
    write(scratch);
    scratch.len() as u64
}

/// The length of the archive of `entries`, written in this order with
/// these functions.
pub fn archive_len<'a>(entries: impl IntoIterator<Item = ZipEntry<'a>>) -> u64 {
    let mut scratch = BytesMut::new();
    let mut offset = 0u64;
    let mut directory = 0u64;
    let mut count = 0u64;
    for entry in entries {
        directory += len_of(&mut scratch, |out| central_header(&entry, 0, offset, out));
        offset += len_of(&mut scratch, |out| local_header(&entry, out))
            + entry.size
            + len_of(&mut scratch, |out| data_descriptor(&entry, 0, out));
        count += 1;
    }
    offset + directory + len_of(&mut scratch, |out| end(count, offset, directory, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times_are_utc_and_clamped_to_the_format() {
        // 2023-11-14 22:13:20 UTC
        let (time, date) = dos_time(1_700_000_000_000);
        assert_eq!(
            (time >> 11, (time >> 5) & 63, (time & 31) * 2),
            (22, 13, 20)
        );
        assert_eq!(
            (1980 + (date >> 9), (date >> 5) & 15, date & 31),
            (2023, 11, 14)
        );
        assert_eq!(dos_time(0), (0, 0x21));
    }

    #[test]
    fn large_files_far_entries_and_many_entries_use_zip64() {
        let small = ZipEntry {
            name: "a.txt",
            modified: 0,
            is_folder: false,
            size: 10,
        };
        let large = ZipEntry {
            size: MAX32,
            ..small
        };
        let mut out = BytesMut::new();
        assert_eq!(len_of(&mut out, |o| local_header(&small, o)), 30 + 5);
        assert_eq!(len_of(&mut out, |o| local_header(&large, o)), 30 + 5 + 20);
        assert_eq!(len_of(&mut out, |o| data_descriptor(&small, 1, o)), 16);
        assert_eq!(len_of(&mut out, |o| data_descriptor(&large, 1, o)), 24);
        assert_eq!(
            len_of(&mut out, |o| central_header(&small, 1, 0, o)),
            46 + 5
        );
        assert_eq!(
            len_of(&mut out, |o| central_header(&small, 1, MAX32, o)),
            46 + 5 + 12
        );
        assert_eq!(
            len_of(&mut out, |o| central_header(&large, 1, MAX32, o)),
            46 + 5 + 28
        );
        assert_eq!(len_of(&mut out, |o| end(3, 100, 100, o)), 22);
        assert_eq!(len_of(&mut out, |o| end(MAX16, 100, 100, o)), 22 + 56 + 20);
        assert_eq!(len_of(&mut out, |o| end(3, MAX32, 100, o)), 22 + 56 + 20);
        let folder = ZipEntry {
            name: "docs",
            is_folder: true,
            size: 0,
            ..small
        };
        assert_eq!(len_of(&mut out, |o| data_descriptor(&folder, 0, o)), 0);
        assert!(out.is_empty());
        local_header(&folder, &mut out);
        assert_eq!(&out[30..], b"docs/");
        // Two entries: the second's offset and the directory add up.
        assert_eq!(
            archive_len([small, folder]),
            (30 + 5 + 10 + 16) + (30 + 5) + (46 + 5) + (46 + 5) + 22
        );
    }
}
