//! `#[derive(ShmType)]` for shmring payload structs.
//!
//! The derive produces `shmring::ShmType::layout()` for a `#[repr(C)]` struct: its name (the
//! identifier, without module path, so the same struct in two binaries matches), its size and
//! alignment, and for every field the field's name, its offset (`core::mem::offset_of!`) and its
//! type's own layout. The struct must also be `bytemuck::Pod`; the trait bound enforces it.
//!
//! Use it through the `shmring` crate, which re-exports it:
//!
//! ```text
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable, shmring::ShmType)]
//! #[repr(C)]
//! struct Tick { ts_ns: u64, price: f64, qty: i32, side: u32 }
//! ```
//!
//! Refused at compile time, with a message saying why: enums and unions, structs without
//! `#[repr(C)]` (or `#[repr(transparent)]`), and generic structs.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::undocumented_unsafe_blocks)]

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{Data, DeriveInput, Error, Fields, parse_macro_input, spanned::Spanned};

/// Derives `shmring::ShmType` for a `#[repr(C)]` struct whose fields are all `ShmType`.
///
/// See the crate documentation for what the generated layout contains.
#[proc_macro_derive(ShmType)]
pub fn derive_shm_type(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(Error::new(
            input.generics.span(),
            "#[derive(ShmType)] does not support generic structs: a shared-memory payload needs \
             one fixed layout; write a concrete struct per payload",
        ));
    }
    check_repr(input)?;
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => {
            return Err(Error::new(
                e.enum_token.span,
                "#[derive(ShmType)] supports only structs: an enum has values that are not valid \
                 for every bit pattern, so a peer could write an invalid one",
            ));
        }
        Data::Union(u) => {
            return Err(Error::new(
                u.union_token.span,
                "#[derive(ShmType)] supports only structs, not unions",
            ));
        }
    };
    let field_layouts = match fields {
        Fields::Named(named) => named
            .named
            .iter()
            .map(|f| {
                let name = f.ident.as_ref().expect("named field has an ident");
                field_layout(ident, &name.to_string(), quote!(#name), &f.ty)
            })
            .collect::<Vec<_>>(),
        Fields::Unnamed(unnamed) => unnamed
            .unnamed
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let index = syn::Index::from(i);
                field_layout(ident, &i.to_string(), quote!(#index), &f.ty)
            })
            .collect(),
        Fields::Unit => Vec::new(),
    };
    let name = ident.to_string();
    Ok(quote! {
        impl ::shmring::ShmType for #ident {
            fn layout() -> ::shmring::TypeLayout {
                ::shmring::TypeLayout::structure(
                    #name,
                    ::core::mem::size_of::<Self>(),
                    ::core::mem::align_of::<Self>(),
                    ::std::vec![#(#field_layouts),*],
                )
            }
        }
    })
}

fn field_layout(
    ident: &syn::Ident,
    name: &str,
    access: TokenStream2,
    ty: &syn::Type,
) -> TokenStream2 {
    quote! {
        ::shmring::FieldLayout::new(
            #name,
            ::core::mem::offset_of!(#ident, #access),
            <#ty as ::shmring::ShmType>::layout(),
        )
    }
}

/// Accepts `#[repr(C)]` (with optional `align(N)`/`packed` companions) and
/// `#[repr(transparent)]`; anything else has no defined layout to describe.
fn check_repr(input: &DeriveInput) -> syn::Result<()> {
    let mut ok = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("C") || meta.path.is_ident("transparent") {
                ok = true;
            }
            if meta.input.peek(syn::token::Paren) {
                // `align(N)` / `packed(N)`: the argument does not change what we describe.
                let content;
                syn::parenthesized!(content in meta.input);
                content.parse::<TokenStream2>()?;
            }
            Ok(())
        })?;
    }
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            input.ident.span(),
            "#[derive(ShmType)] needs #[repr(C)] (or #[repr(transparent)]): Rust's default layout \
             may differ between builds, so two processes could disagree about the bytes",
        ))
    }
}
