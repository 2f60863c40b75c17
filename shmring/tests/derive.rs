//! `#[derive(ShmType)]` on the struct shapes users write.

use shmring::{ShmType, TypeLayout};

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
#[repr(C)]
struct Inner {
    a: u16,
    b: [u8; 2],
}

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
#[repr(C)]
struct Outer {
    id: u32,
    inner: Inner,
    pairs: [Inner; 3],
}

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
#[repr(C)]
struct Tuple(u64, i64);

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
#[repr(transparent)]
struct Meters(f64);

#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, ShmType)]
#[repr(C, align(64))]
struct CacheLine {
    seq: u64,
    pad: [u8; 56],
}

#[test]
fn nested_structs_and_arrays_are_described_recursively() {
    assert_eq!(
        Outer::layout().to_string(),
        "Outer { id: u32 @0, inner: Inner { a: u16 @0, b: [u8; 2] @2 } @4, \
         pairs: [Inner { a: u16 @0, b: [u8; 2] @2 }; 3] @8 } (size 20, align 4)"
    );
}

#[test]
fn tuple_and_transparent_structs() {
    assert_eq!(
        Tuple::layout().to_string(),
        "Tuple { 0: u64 @0, 1: i64 @8 } (size 16, align 8)"
    );
    assert_eq!(
        Meters::layout().to_string(),
        "Meters { 0: f64 @0 } (size 8, align 8)"
    );
    assert_ne!(Meters::layout().fingerprint(), f64::layout().fingerprint());
}

#[test]
fn alignment_attributes_are_recorded() {
    let l = CacheLine::layout();
    assert_eq!((l.size(), l.align()), (64, 64));
}

#[test]
fn a_changed_nested_field_changes_the_outer_fingerprint() {
    let changed = TypeLayout::structure(
        "Outer",
        20,
        4,
        vec![
            shmring::FieldLayout::new("id", 0, u32::layout()),
            shmring::FieldLayout::new(
                "inner",
                4,
                TypeLayout::structure(
                    "Inner",
                    4,
                    2,
                    vec![
                        shmring::FieldLayout::new("a", 0, i16::layout()),
                        shmring::FieldLayout::new("b", 2, <[u8; 2]>::layout()),
                    ],
                ),
            ),
            shmring::FieldLayout::new("pairs", 8, <[Inner; 3]>::layout()),
        ],
    );
    assert_ne!(changed.fingerprint(), Outer::layout().fingerprint());
}
