//! Realistic complaint submissions: categories from the default taxonomy,
//! descriptions of 100–1500 characters in English, Chinese or Spanish,
//! outcomes, severity, mood, and sometimes contact details with consent.
//!
//! Generated from a fixed seed, so every run sends the same mix.

use heard_shared::site::default_categories;
use heard_shared::{ComplaintSubmission, Contact, Mood, Outcome, Severity};

/// A small deterministic generator (SplitMix64): enough for picking words,
/// and it keeps the benchmark free of a random-number dependency.
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: usize, high: usize) -> usize {
        low + (self.next_u64() % (high - low + 1) as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.between(0, items.len() - 1)]
    }

    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut bytes = [0; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        bytes
    }
}

pub const ENGLISH: &[&str] = &[
    "The kettle I ordered arrived with a cracked lid and the box was soaked.",
    "I waited forty minutes on the phone and nobody picked up.",
    "The courier marked the parcel as delivered, but it never reached my door.",
    "I was charged twice for the same order and the refund has not appeared.",
    "The staff member at the counter was dismissive when I asked about the warranty.",
    "The size chart on the website does not match the jacket I received.",
    "My order number is on the invoice; please check what happened to the second item.",
    "The checkout page froze after I entered my card details, and then I got two emails.",
    "I would simply like someone to acknowledge that this is not acceptable.",
    "The battery swelled after three weeks and I am worried it is not safe to use.",
    "The return policy says thirty days, yet the shop refused after twelve.",
    "It is the third time this has happened since the spring.",
];

pub const CHINESE: &[&str] = &[
    "我订购的水壶收到时盖子已经裂开了，包装盒也湿透了。",
    "我在电话里等了四十分钟，一直没有人接听。",
    "快递显示已签收，但包裹根本没有送到我家门口。",
    "同一个订单被扣了两次款，退款到现在还没有到账。",
    "柜台的工作人员在我询问保修时态度非常冷淡。",
    "网站上的尺码表和我收到的外套完全对不上。",
    "结账页面在我输入银行卡信息后卡住了，然后我收到了两封确认邮件。",
    "我只是希望有人承认这样的服务是不可接受的。",
    "电池用了三个星期就鼓包了，我担心继续使用不安全。",
    "退货政策写的是三十天，可是十二天后商店就拒绝了。",
    "从春天到现在，这已经是第三次发生这种情况了。",
];

pub const SPANISH: &[&str] = &[
    "El hervidor que pedí llegó con la tapa rota y la caja empapada.",
    "Esperé cuarenta minutos al teléfono y nadie contestó.",
    "El repartidor marcó el paquete como entregado, pero nunca llegó a mi puerta.",
    "Me cobraron dos veces el mismo pedido y el reembolso todavía no aparece.",
    "El empleado del mostrador fue muy despectivo cuando pregunté por la garantía.",
    "La tabla de tallas de la web no coincide con la chaqueta que recibí.",
    "La página de pago se bloqueó después de introducir mi tarjeta y recibí dos correos.",
    "Solo quiero que alguien reconozca que esto no es aceptable.",
    "La batería se hinchó a las tres semanas y me preocupa que no sea seguro usarla.",
    "La política de devoluciones dice treinta días, pero la tienda se negó a los doce.",
    "Es la tercera vez que pasa desde la primavera.",
];

const REMEDIES: &[&str] = &[
    "Please send a replacement.",
    "A full refund, please.",
    "请给我退款。",
    "Quisiera una disculpa y un reembolso.",
];

const PAGES: &[&str] = &[
    "https://shop.example/products/kettle-1700",
    "https://shop.example/checkout",
    "https://shop.example/orders/88231",
    "https://tienda.example/es/pedido",
];

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/// One submission, drawn from `random`.
pub fn submission(random: &mut Random) -> ComplaintSubmission {
    let categories = default_categories();
    let category = random.pick(&categories).id.clone();
    // Chinese runs its sentences together; the others put a space between.
    let (language, sentences, separator) = match random.between(0, 9) {
        0..=4 => ("en", ENGLISH, " "),
        5..=7 => ("zh-Hans", CHINESE, ""),
        _ => ("es", SPANISH, " "),
    };
    let length = random.between(100, 1500);
    let description = text_of_length(random, sentences, separator, length);

    let mut outcomes: Vec<Outcome> = Outcome::ALL
        .iter()
        .copied()
        .filter(|_| random.chance(40))
        .collect();
    if outcomes.is_empty() {
        outcomes.push(*random.pick(&Outcome::ALL));
    }
    let contact = random.chance(30).then(|| Contact {
        name: Some("Ana Li".to_owned()),
        email: Some(format!("shopper{}@mail.example", random.between(1, 99_999))),
        phone: random.chance(30).then(|| "+34 600 123 456".to_owned()),
        consent: true,
    });
    let mut answers = std::collections::BTreeMap::new();
    if category == "product" && random.chance(50) {
        answers.insert("product".to_owned(), "Electric kettle, 1.7 l".to_owned());
    }
    ComplaintSubmission {
        category,
        description,
        outcomes,
        remedy: random.chance(30).then(|| random.pick(REMEDIES).to_string()),
        severity: random.chance(70).then(|| *random.pick(&Severity::ALL)),
        mood: random.chance(70).then(|| *random.pick(&Mood::ALL)),
        language: language.to_owned(),
        page_url: Some(random.pick(PAGES).to_string()),
        user_agent: Some(USER_AGENT.to_owned()),
        answers,
        contact,
        ..ComplaintSubmission::default()
    }
}

/// Sentences from `sentences` joined by `separator` until the text has
/// `length` characters (cut at a character boundary, then trimmed).
pub fn text_of_length(
    random: &mut Random,
    sentences: &[&str],
    separator: &str,
    length: usize,
) -> String {
    let mut text = String::new();
    while text.chars().count() < length {
        if !text.is_empty() {
            text.push_str(separator);
        }
        text.push_str(random.pick::<&str>(sentences));
    }
    text.chars()
        .take(length)
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use heard_shared::{SiteConfig, validate_submission};

    use super::*;

    #[test]
    fn generated_submissions_pass_the_collectors_validation() {
        let config = SiteConfig::with_defaults("bench", "Bench");
        let mut random = Random::new(7);
        for _ in 0..300 {
            let submission = submission(&mut random);
            let length = submission.description.chars().count();
            assert!((90..=1500).contains(&length), "{length}");
            assert_eq!(validate_submission(&submission, &config), Ok(()));
        }
    }
}
