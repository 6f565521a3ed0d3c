//! Build script: with the `gather` feature, compiles the vendored Gather schema in pure
//! Rust (protox, no `protoc`), generates its prost types, and generates the typed action
//! constructors, client methods and the `available_actions()` table from the descriptor.
//! Without the feature it does nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "gather")]
    gather::generate();
}

#[cfg(feature = "gather")]
mod gather {
    use std::{fmt::Write as _, path::PathBuf};

    use heck::{ToSnakeCase, ToUpperCamelCase};
    use prost::Message as _;
    use prost_types::{
        DescriptorProto, FieldDescriptorProto, FileDescriptorSet,
        field_descriptor_proto::{Label, Type},
    };

    const PROTO: &str = "proto/gather_events.proto";

    pub(super) fn generate() {
        println!("cargo:rerun-if-changed={PROTO}");
        let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
        let fds: FileDescriptorSet = protox::compile([PROTO], ["proto"])
            .unwrap_or_else(|e| panic!("cannot compile {PROTO}: {e}"));
        std::fs::write(out.join("gather_descriptor.bin"), fds.encode_to_vec())
            .expect("write the descriptor set");
        let file = &fds.file[0];
        let code = actions(&file.message_type);
        std::fs::write(out.join("gather_actions.rs"), code).expect("write gather_actions.rs");
        prost_build::Config::new()
            .btree_map(["."])
            .out_dir(&out)
            .compile_fds(fds)
            .expect("generate the prost types");
    }

    /// The SDK's `camel_to_snake`: `_` before every capital but the first character.
    fn sdk_snake(name: &str) -> String {
        let mut s = String::new();
        for (i, c) in name.chars().enumerate() {
            if i > 0 && c.is_ascii_uppercase() {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        }
        s
    }

    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl",
        "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
        "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "abstract", "become",
        "box", "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield",
        "try", "async", "await", "dyn", "gen",
    ];

    /// An identifier, escaped as prost escapes it.
    fn ident(name: String) -> String {
        match name.as_str() {
            "self" | "super" | "extern" | "crate" => format!("{name}_"),
            n if KEYWORDS.contains(&n) => format!("r#{name}"),
            _ => name,
        }
    }

    /// prost's field / module name.
    fn prost_snake(name: &str) -> String {
        ident(name.to_snake_case())
    }

    /// prost's type name.
    fn prost_camel(name: &str) -> String {
        let n = name.to_upper_camel_case();
        if n == "Self" { "Self_".into() } else { n }
    }

    /// The Rust path (from the generated module's root) of a fully qualified proto type.
    fn type_path(full: &str) -> String {
        let parts: Vec<&str> = full.trim_start_matches('.').split('.').collect();
        let (last, outer) = parts.split_last().expect("a type name");
        let mut path: Vec<String> = outer.iter().map(|p| p.to_snake_case()).collect();
        path.push(prost_camel(last));
        path.join("::")
    }

    struct Schema<'a> {
        messages: Vec<(String, &'a DescriptorProto)>,
    }

    impl<'a> Schema<'a> {
        fn new(top: &'a [DescriptorProto]) -> Self {
            fn walk<'a>(
                prefix: &str,
                list: &'a [DescriptorProto],
                out: &mut Vec<(String, &'a DescriptorProto)>,
            ) {
                for m in list {
                    let name = format!("{prefix}.{}", m.name());
                    walk(&name, &m.nested_type, out);
                    out.push((name, m));
                }
            }
            let mut messages = Vec::new();
            walk("", top, &mut messages);
            Self { messages }
        }

        fn message(&self, full: &str) -> &'a DescriptorProto {
            self.messages
                .iter()
                .find(|(n, _)| n == full)
                .map(|(_, m)| *m)
                .unwrap_or_else(|| panic!("unknown message {full}"))
        }

        fn map_entry(&self, field: &FieldDescriptorProto) -> Option<&'a DescriptorProto> {
            if field.r#type() != Type::Message {
                return None;
            }
            let m = self.message(field.type_name());
            m.options
                .as_ref()
                .is_some_and(|o| o.map_entry())
                .then_some(m)
        }

        /// The Rust type of one value of this field (ignoring label).
        fn scalar(&self, field: &FieldDescriptorProto) -> String {
            match field.r#type() {
                Type::Double => "f64".into(),
                Type::Float => "f32".into(),
                Type::Int32 | Type::Sint32 | Type::Sfixed32 => "i32".into(),
                Type::Int64 | Type::Sint64 | Type::Sfixed64 => "i64".into(),
                Type::Uint32 | Type::Fixed32 => "u32".into(),
                Type::Uint64 | Type::Fixed64 => "u64".into(),
                Type::Bool => "bool".into(),
                Type::String => "::prost::alloc::string::String".into(),
                Type::Bytes => "::prost::alloc::vec::Vec<u8>".into(),
                Type::Enum | Type::Message | Type::Group => type_path(field.type_name()),
            }
        }

        /// The proto type as written in the schema (`optional string`, `map<string, bool>`).
        fn proto_type(&self, field: &FieldDescriptorProto) -> String {
            if let Some(entry) = self.map_entry(field) {
                return format!(
                    "map<{}, {}>",
                    self.proto_type(&entry.field[0]),
                    self.proto_type(&entry.field[1])
                );
            }
            let base = match field.r#type() {
                Type::Double => "double".into(),
                Type::Float => "float".into(),
                Type::Int32 => "int32".into(),
                Type::Sint32 => "sint32".into(),
                Type::Sfixed32 => "sfixed32".into(),
                Type::Int64 => "int64".into(),
                Type::Sint64 => "sint64".into(),
                Type::Sfixed64 => "sfixed64".into(),
                Type::Uint32 => "uint32".into(),
                Type::Fixed32 => "fixed32".into(),
                Type::Uint64 => "uint64".into(),
                Type::Fixed64 => "fixed64".into(),
                Type::Bool => "bool".into(),
                Type::String => "string".into(),
                Type::Bytes => "bytes".into(),
                Type::Enum | Type::Message | Type::Group => field.type_name().to_owned(),
            };
            if field.label() == Label::Repeated {
                format!("repeated {base}")
            } else if field.proto3_optional() {
                format!("optional {base}")
            } else {
                base
            }
        }

        /// The SDK docstring's type name (`str`, `int`, `bool`, `float`, `bytes`, or the
        /// message class).
        fn sdk_type(&self, field: &FieldDescriptorProto) -> String {
            match field.r#type() {
                Type::Bool => "bool".into(),
                Type::String => "str".into(),
                Type::Bytes => "bytes".into(),
                Type::Double | Type::Float => "float".into(),
                Type::Message | Type::Group => field
                    .type_name()
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                _ => "int".into(),
            }
        }
    }

    /// One parameter of a generated constructor.
    struct Param {
        name: String,
        ty: String,
        /// Expression turning the parameter into the prost field's value.
        convert: String,
        field: String,
    }

    fn params(schema: &Schema<'_>, msg_path: &str, msg: &DescriptorProto) -> Vec<Param> {
        let mut out: Vec<Param> = Vec::new();
        let mut oneofs_done = Vec::new();
        let module = msg_path.trim_start_matches('.').to_snake_case();
        for field in &msg.field {
            if let Some(index) = field.oneof_index
                && !field.proto3_optional()
            {
                if oneofs_done.contains(&index) {
                    continue;
                }
                oneofs_done.push(index);
                let oneof = msg.oneof_decl[index as usize].name();
                let name = prost_snake(oneof);
                out.push(Param {
                    name: name.clone(),
                    ty: format!("::core::option::Option<{module}::{}>", prost_camel(oneof)),
                    convert: name.clone(),
                    field: name,
                });
                continue;
            }
            let name = ident(sdk_snake(field.name()).to_snake_case());
            let field_name = prost_snake(field.name());
            let scalar = schema.scalar(field);
            let is_enum = field.r#type() == Type::Enum;
            let (ty, convert) = if let Some(entry) = schema.map_entry(field) {
                let k = schema.scalar(&entry.field[0]);
                let v = if entry.field[1].r#type() == Type::Enum {
                    "i32".to_owned()
                } else {
                    schema.scalar(&entry.field[1])
                };
                (
                    format!("::prost::alloc::collections::BTreeMap<{k}, {v}>"),
                    name.clone(),
                )
            } else if field.label() == Label::Repeated {
                if is_enum {
                    (
                        format!("::prost::alloc::vec::Vec<{scalar}>"),
                        format!("{name}.into_iter().map(|e| e as i32).collect()"),
                    )
                } else {
                    (format!("::prost::alloc::vec::Vec<{scalar}>"), name.clone())
                }
            } else if field.proto3_optional() || field.r#type() == Type::Message {
                if is_enum {
                    (
                        format!("::core::option::Option<{scalar}>"),
                        format!("{name}.map(|e| e as i32)"),
                    )
                } else {
                    (format!("::core::option::Option<{scalar}>"), name.clone())
                }
            } else if is_enum {
                (scalar, format!("{name} as i32"))
            } else if field.r#type() == Type::String {
                (
                    "impl ::core::convert::Into<::prost::alloc::string::String>".into(),
                    format!("{name}.into()"),
                )
            } else {
                (scalar, name.clone())
            };
            out.push(Param {
                name,
                ty,
                convert,
                field: field_name,
            });
        }
        out
    }

    fn actions(top: &[DescriptorProto]) -> String {
        let schema = Schema::new(top);
        let action_msg = schema.message(".ClientServerAction");
        let event_msg = schema.message(".ServerClientEvent");
        let mut constructors = String::new();
        let mut methods = String::new();
        let mut table = String::new();
        let mut names = String::new();
        let mut froms = String::new();
        let mut count = 0;
        let members: Vec<&FieldDescriptorProto> = action_msg
            .field
            .iter()
            .filter(|f| f.oneof_index.is_some() && !f.proto3_optional())
            .collect();
        for field in &members {
            count += 1;
            let camel = field.name();
            let method = ident(sdk_snake(camel));
            let variant = prost_camel(camel);
            let msg_path = field.type_name();
            let rust_msg = type_path(msg_path);
            let msg = schema.message(msg_path);
            let ps = params(&schema, msg_path, msg);
            let sig: Vec<String> = ps.iter().map(|p| format!("{}: {}", p.name, p.ty)).collect();
            let args: Vec<String> = ps.iter().map(|p| p.name.clone()).collect();
            let inits: Vec<String> = ps
                .iter()
                .map(|p| {
                    if p.convert == p.field {
                        p.field.clone()
                    } else {
                        format!("{}: {}", p.field, p.convert)
                    }
                })
                .collect();
            let doc_args: Vec<String> = ps
                .iter()
                .map(|p| format!("`{}`", p.name.trim_start_matches("r#")))
                .collect();
            let doc_args = if doc_args.is_empty() {
                "no arguments".to_owned()
            } else {
                doc_args.join(", ")
            };
            let _ = writeln!(
                constructors,
                "    /// The `{camel}` action (field {number}, [`{rust_msg}`]): {doc_args}.\n    #[must_use]\n    #[allow(clippy::too_many_arguments)]\n    pub fn {method}({sig}) -> Self {{\n        Self::{variant}({rust_msg} {{ {inits} }})\n    }}\n",
                number = field.number(),
                sig = sig.join(", "),
                inits = inits.join(", "),
            );
            let _ = writeln!(
                methods,
                "    /// Sends the `{camel}` action ({doc_args}) with a fresh `txnId`; see\n    /// [`Action::{method_doc}`] for its dry run. Returns once queued, with a receipt\n    /// that resolves on the server's `transactionStatus`.\n    ///\n    /// # Errors\n    /// [`GatherError::NotConnected`] or [`GatherError::Send`], with the action.\n    #[allow(clippy::too_many_arguments)]\n    pub async fn {method}(&self, {sig}) -> ::core::result::Result<ActionReceipt, GatherError> {{\n        self.act(Action::{method}({args})).await\n    }}\n",
                method_doc = method.trim_start_matches("r#"),
                sig = sig.join(", "),
                args = args.join(", "),
            );
            let mut arg_table = String::new();
            for f in &msg.field {
                let _ = write!(
                    arg_table,
                    "ArgInfo {{ name: {:?}, field: {:?}, sdk_type: {:?}, proto_type: {:?} }}, ",
                    sdk_snake(f.name()),
                    f.name(),
                    schema.sdk_type(f),
                    schema.proto_type(f),
                );
            }
            let _ = writeln!(
                table,
                "    ActionInfo {{ name: {:?}, field: {camel:?}, number: {}, message: {:?}, args: &[{arg_table}] }},",
                method.trim_start_matches("r#"),
                field.number(),
                msg_path.trim_start_matches('.'),
            );
            let _ = writeln!(names, "            Self::{variant}(_) => {camel:?},");
            let shared = members.iter().filter(|m| m.type_name() == msg_path).count() > 1;
            if !shared {
                let _ = writeln!(
                    froms,
                    "impl ::core::convert::From<{rust_msg}> for Action {{\n    fn from(action: {rust_msg}) -> Self {{\n        Self::{variant}(action)\n    }}\n}}\n"
                );
            }
        }
        let mut event_names = String::new();
        let mut event_table = String::new();
        for field in event_msg
            .field
            .iter()
            .filter(|f| f.oneof_index.is_some() && !f.proto3_optional())
        {
            let _ = writeln!(
                event_names,
                "            Self::{}(_) => {:?},",
                prost_camel(field.name()),
                field.name()
            );
            let _ = writeln!(
                event_table,
                "    EventInfo {{ field: {:?}, number: {}, message: {:?} }},",
                field.name(),
                field.number(),
                field.type_name().trim_start_matches('.'),
            );
        }
        format!(
            "// Generated by build.rs from proto/gather_events.proto. Do not edit.\n\n\
/// Number of actions in `ClientServerAction.action`.\n\
pub const ACTION_COUNT: usize = {count};\n\n\
impl Action {{\n{constructors}\n\
    /// The action's field name in `ClientServerAction` (`setTextStatus`).\n\
    #[must_use]\n\
    pub fn field_name(&self) -> &'static str {{\n        match self {{\n{names}        }}\n    }}\n}}\n\n\
{froms}\n\
impl ServerEvent {{\n\
    /// The event's field name in `ServerClientEvent` (`playerChats`), used to route it.\n\
    #[must_use]\n\
    pub fn name(&self) -> &'static str {{\n        match self {{\n{event_names}        }}\n    }}\n}}\n\n\
/// Every server event (`ServerClientEvent.event`), in schema order.\n\
pub static EVENTS: &[EventInfo] = &[\n{event_table}];\n\n\
/// Every action with its arguments, in schema order.\n\
pub static ACTIONS: &[ActionInfo] = &[\n{table}];\n\n\
impl GatherClient {{\n{methods}}}\n"
        )
    }
}
