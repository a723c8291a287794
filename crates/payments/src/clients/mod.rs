mod card_processor;

pub use card_processor::{CardProcessor, ProcessorAnswer};
