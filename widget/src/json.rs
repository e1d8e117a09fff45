//! JSON for the widget's wire types, through the browser's own parser.
//!
//! In the browser, text is parsed and written by `JSON.parse` and
//! `JSON.stringify`. Reading walks the parsed value with the small serde
//! deserializer below; writing goes through `serde-wasm-bindgen`. Bundling a JSON parser and writer (serde_json)
//! cost shoppers about 90 KB of code; the browser already has both. Host tests
//! have no browser, so there the same functions use serde_json.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Parses `text` as a `T`; `None` when it is not JSON or not a `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
    imp::from_str(text)
}

/// Parses `text` as a JSON array and reads every element on its own: an
/// element that is not a `T` is skipped, not fatal. `None` when the text is
/// not a JSON array.
pub fn list_from_str<T: DeserializeOwned>(text: &str) -> Option<Vec<T>> {
    imp::list_from_str(text)
}

/// The objects of a JSON array, for reading a few fields of each by hand
/// rather than through a serde derive (whose code shoppers would download);
/// elements that are not objects are skipped. `None` when `text` is not an
/// array.
pub fn objects(text: &str) -> Option<Vec<JsonObject>> {
    imp::objects(text)
}

/// One JSON object, for reading a few fields by hand; `None` when `text` is
/// not an object.
pub fn object(text: &str) -> Option<JsonObject> {
    imp::object(text)
}

pub use imp::JsonObject;

/// `value` as compact JSON. The wire types hold only strings, integers,
/// booleans, lists and maps with string keys, so writing cannot fail; an empty
/// string stands for the impossible failure.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    imp::to_string(value)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use std::fmt;

    use js_sys::{Array, JSON, Number, Object};
    use serde::Serialize;
    use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
    use wasm_bindgen::{JsCast, JsValue};

    pub fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
        T::deserialize(Value(JSON::parse(text).ok()?)).ok()
    }

    /// One object of a parsed JSON array.
    pub struct JsonObject(JsValue);

    impl JsonObject {
        fn field(&self, name: &str) -> JsValue {
            js_sys::Reflect::get(&self.0, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
        }

        /// A string field.
        pub fn text(&self, name: &str) -> Option<String> {
            self.field(name).as_string()
        }

        /// A number field.
        pub fn number(&self, name: &str) -> Option<f64> {
            self.field(name).as_f64()
        }

        /// An object field, as JSON text.
        pub fn object_json(&self, name: &str) -> Option<String> {
            let value = self.field(name);
            if !value.is_object() || Array::is_array(&value) {
                return None;
            }
            JSON::stringify(&value).ok()?.as_string()
        }
    }

    pub fn object(text: &str) -> Option<JsonObject> {
        let value = JSON::parse(text).ok()?;
        (value.is_object() && !Array::is_array(&value)).then_some(JsonObject(value))
    }

    pub fn objects(text: &str) -> Option<Vec<JsonObject>> {
        let list = JSON::parse(text).ok()?.dyn_into::<Array>().ok()?;
        Some(
            list.iter()
                .filter(|value| value.is_object() && !Array::is_array(value))
                .map(JsonObject)
                .collect(),
        )
    }

    pub fn list_from_str<T: DeserializeOwned>(text: &str) -> Option<Vec<T>> {
        let list = JSON::parse(text).ok()?.dyn_into::<Array>().ok()?;
        Some(
            list.iter()
                .filter_map(|value| T::deserialize(Value(value)).ok())
                .collect(),
        )
    }

    pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
        // JSON's shapes: maps as plain objects, `None` as `null`.
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        value
            .serialize(&serializer)
            .ok()
            .and_then(|value| JSON::stringify(&value).ok())
            .and_then(|text| text.as_string())
            .unwrap_or_default()
    }

    /// Why a value could not be read. The widget only needs to know *that*
    /// an answer was not what it expected, so serde's messages are dropped
    /// unformatted: formatting them (floats included) costs kilobytes.
    #[derive(Debug)]
    pub struct Invalid;

    impl fmt::Display for Invalid {
        fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("unexpected JSON")
        }
    }

    impl std::error::Error for Invalid {}

    impl de::Error for Invalid {
        fn custom<T: fmt::Display>(_message: T) -> Self {
            Invalid
        }
    }

    /// What a parsed value is. Deciding it outside the generic deserializer
    /// keeps the JavaScript calls in one copy instead of one per wire type.
    enum Shape {
        Null,
        Bool(bool),
        Unsigned(u64),
        Signed(i64),
        Float(f64),
        Text(String),
        List(Array),
        /// The object's `[key, value]` pairs.
        Object(Array),
    }

    impl Shape {
        #[inline(never)]
        fn of(value: JsValue) -> Shape {
            if value.is_null() || value.is_undefined() {
                Shape::Null
            } else if let Some(flag) = value.as_bool() {
                Shape::Bool(flag)
            } else if let Some(number) = value.as_f64() {
                // Integers as integers, so `u32` fields read them.
                if !Number::is_safe_integer(&value) {
                    Shape::Float(number)
                } else if number >= 0.0 {
                    Shape::Unsigned(number as u64)
                } else {
                    Shape::Signed(number as i64)
                }
            } else if let Some(text) = value.as_string() {
                Shape::Text(text)
            } else if Array::is_array(&value) {
                Shape::List(value.unchecked_into())
            } else {
                // JSON.parse makes nothing else: the rest are plain objects.
                Shape::Object(Object::entries(value.unchecked_ref()))
            }
        }
    }

    /// A value from `JSON.parse`, read by serde: null, booleans, numbers,
    /// strings, arrays and plain objects are all it can hold.
    struct Value(JsValue);

    impl<'de> de::Deserializer<'de> for Value {
        type Error = Invalid;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
            match Shape::of(self.0) {
                Shape::Null => visitor.visit_unit(),
                Shape::Bool(flag) => visitor.visit_bool(flag),
                Shape::Unsigned(number) => visitor.visit_u64(number),
                Shape::Signed(number) => visitor.visit_i64(number),
                Shape::Float(number) => visitor.visit_f64(number),
                Shape::Text(text) => visitor.visit_string(text),
                Shape::List(items) => visitor.visit_seq(Items { items, next: 0 }),
                Shape::Object(entries) => visitor.visit_map(Entries {
                    entries,
                    next: 0,
                    value: None,
                }),
            }
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
            if self.0.is_null() || self.0.is_undefined() {
                visitor.visit_none()
            } else {
                visitor.visit_some(self)
            }
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            visitor: V,
        ) -> Result<V::Value, Invalid> {
            visitor.visit_newtype_struct(self)
        }

        /// The wire types' enums are plain strings (unit variants).
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Invalid> {
            let name = self.0.as_string().ok_or(Invalid)?;
            visitor.visit_enum(IntoDeserializer::<Invalid>::into_deserializer(name))
        }

        // Structs and maps only from objects, lists only from arrays, text
        // only from strings: each wire type's visitor is then compiled with
        // just the one `visit_*` it uses (serde_json also accepted a struct
        // written as an array, which the collector never sends).
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Invalid> {
            self.deserialize_map(visitor)
        }

        fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
            match Shape::of(self.0) {
                Shape::Object(entries) => visitor.visit_map(Entries {
                    entries,
                    next: 0,
                    value: None,
                }),
                _ => Err(Invalid),
            }
        }

        fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
            match Shape::of(self.0) {
                Shape::List(items) => visitor.visit_seq(Items { items, next: 0 }),
                _ => Err(Invalid),
            }
        }

        fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
            visitor.visit_string(self.0.as_string().ok_or(Invalid)?)
        }

        fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
            self.deserialize_string(visitor)
        }

        fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
            self.deserialize_string(visitor)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
            bytes byte_buf unit unit_struct tuple tuple_struct ignored_any
        }
    }

    /// A JSON array's elements, in order.
    struct Items {
        items: Array,
        next: u32,
    }

    impl<'de> de::SeqAccess<'de> for Items {
        type Error = Invalid;

        fn next_element_seed<T: DeserializeSeed<'de>>(
            &mut self,
            seed: T,
        ) -> Result<Option<T::Value>, Invalid> {
            if self.next >= self.items.length() {
                return Ok(None);
            }
            let item = self.items.get(self.next);
            self.next += 1;
            seed.deserialize(Value(item)).map(Some)
        }
    }

    /// A JSON object's members, as `Object.entries` lists them.
    struct Entries {
        entries: Array,
        next: u32,
        value: Option<JsValue>,
    }

    impl<'de> de::MapAccess<'de> for Entries {
        type Error = Invalid;

        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Invalid> {
            if self.next >= self.entries.length() {
                return Ok(None);
            }
            let entry: Array = self.entries.get(self.next).unchecked_into();
            self.next += 1;
            self.value = Some(entry.get(1));
            seed.deserialize(Value(entry.get(0))).map(Some)
        }

        fn next_value_seed<V: DeserializeSeed<'de>>(
            &mut self,
            seed: V,
        ) -> Result<V::Value, Invalid> {
            seed.deserialize(Value(self.value.take().ok_or(Invalid)?))
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    pub fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
        serde_json::from_str(text).ok()
    }

    /// One object of a parsed JSON array.
    pub struct JsonObject(serde_json::Map<String, serde_json::Value>);

    impl JsonObject {
        /// A string field.
        pub fn text(&self, name: &str) -> Option<String> {
            self.0.get(name)?.as_str().map(str::to_owned)
        }

        /// A number field.
        pub fn number(&self, name: &str) -> Option<f64> {
            self.0.get(name)?.as_f64()
        }

        /// An object field, as JSON text.
        pub fn object_json(&self, name: &str) -> Option<String> {
            let value = self.0.get(name)?;
            value.is_object().then(|| value.to_string())
        }
    }

    pub fn object(text: &str) -> Option<JsonObject> {
        match serde_json::from_str(text).ok()? {
            serde_json::Value::Object(map) => Some(JsonObject(map)),
            _ => None,
        }
    }

    pub fn objects(text: &str) -> Option<Vec<JsonObject>> {
        let values = serde_json::from_str::<Vec<serde_json::Value>>(text).ok()?;
        Some(
            values
                .into_iter()
                .filter_map(|value| match value {
                    serde_json::Value::Object(map) => Some(JsonObject(map)),
                    _ => None,
                })
                .collect(),
        )
    }

    pub fn list_from_str<T: DeserializeOwned>(text: &str) -> Option<Vec<T>> {
        let values = serde_json::from_str::<Vec<serde_json::Value>>(text).ok()?;
        Some(
            values
                .into_iter()
                .filter_map(|value| serde_json::from_value(value).ok())
                .collect(),
        )
    }

    pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }
}
