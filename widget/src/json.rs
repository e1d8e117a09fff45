//! JSON for the widget's wire types, through the browser's own parser.
//!
//! In the browser, text is parsed and written by `JSON.parse` and
//! `JSON.stringify`. Answers are read by hand, field by field, from the
//! parsed value ([`JsonObject`]; see `site_config`, `api::parse_receipt`):
//! no serde deserializer is compiled into the wasm. Writing goes through
//! `serde-wasm-bindgen`. Bundling a JSON parser and writer (serde_json)
//! cost shoppers about 90 KB of code; the browser already has both. Host tests
//! have no browser, so there the same functions use serde_json.

use serde::Serialize;

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
    use js_sys::{Array, JSON, Object};
    use serde::Serialize;
    use wasm_bindgen::{JsCast, JsValue};

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

        /// A true/false field.
        pub fn flag(&self, name: &str) -> Option<bool> {
            self.field(name).as_bool()
        }

        /// Every field whose value is a string, as a map.
        pub fn text_map(&self) -> std::collections::BTreeMap<String, String> {
            Object::entries(self.0.unchecked_ref::<Object>())
                .iter()
                .filter_map(|entry| {
                    let pair: Array = entry.unchecked_into();
                    Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
                })
                .collect()
        }

        /// An object field.
        pub fn object(&self, name: &str) -> Option<JsonObject> {
            let value = self.field(name);
            (value.is_object() && !Array::is_array(&value)).then_some(JsonObject(value))
        }

        /// The strings in an array field; empty when there is none.
        pub fn texts(&self, name: &str) -> Vec<String> {
            self.field(name)
                .dyn_into::<Array>()
                .map(|list| list.iter().filter_map(|value| value.as_string()).collect())
                .unwrap_or_default()
        }

        /// The objects in an array field; empty when there is none.
        pub fn objects(&self, name: &str) -> Vec<JsonObject> {
            self.field(name)
                .dyn_into::<Array>()
                .map(|list| {
                    list.iter()
                        .filter(|value| value.is_object() && !Array::is_array(value))
                        .map(JsonObject)
                        .collect()
                })
                .unwrap_or_default()
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
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use serde::Serialize;

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

        /// A true/false field.
        pub fn flag(&self, name: &str) -> Option<bool> {
            self.0.get(name)?.as_bool()
        }

        /// Every field whose value is a string, as a map.
        pub fn text_map(&self) -> std::collections::BTreeMap<String, String> {
            self.0
                .iter()
                .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
                .collect()
        }

        /// An object field.
        pub fn object(&self, name: &str) -> Option<JsonObject> {
            self.0.get(name)?.as_object().cloned().map(JsonObject)
        }

        /// The strings in an array field; empty when there is none.
        pub fn texts(&self, name: &str) -> Vec<String> {
            match self.0.get(name) {
                Some(serde_json::Value::Array(values)) => values
                    .iter()
                    .filter_map(|value| value.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            }
        }

        /// The objects in an array field; empty when there is none.
        pub fn objects(&self, name: &str) -> Vec<JsonObject> {
            match self.0.get(name) {
                Some(serde_json::Value::Array(values)) => values
                    .iter()
                    .filter_map(|value| value.as_object().cloned().map(JsonObject))
                    .collect(),
                _ => Vec::new(),
            }
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

    pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
        serde_json::to_string(value).unwrap_or_default()
    }
}
