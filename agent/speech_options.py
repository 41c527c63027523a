"""The speech library's options, built from the app's settings (the only place that maps one to the other)."""
from __future__ import annotations

from agent.config import Settings, get_settings
from speech.options import AsrOptions, PromptCacheOptions, TtsOptions


def asr_options(settings: Settings | None = None) -> AsrOptions:
    s = settings or get_settings()
    return AsrOptions(
        engine=s.asr_engine, model=s.whisper_model, model_dir=s.whisper_model_dir,
        models_home=s.whisper_models_home, cache_dir=s.cache_dir, threads=s.asr_threads,
        workers=s.asr_workers, lm_weight=s.asr_lm_weight, lm_weight_en=s.asr_lm_weight_en,
        lm_margin_zh=s.asr_lm_margin_zh, lm_margin_en=s.asr_lm_margin_en,
        encoder_compute_type=s.asr_encoder_compute_type,
        decoder_compute_type=s.asr_decoder_compute_type,
        encoder_compute_type_zh=s.asr_encoder_compute_type_zh,
        beam_size_zh=s.asr_beam_size_zh, beam_size_en=s.asr_beam_size_en,
        patience_zh=s.asr_patience_zh, patience_en=s.asr_patience_en, pad_s=s.asr_pad_s, tail_s=s.asr_tail_s,
        band_fold_en=s.asr_band_fold_en, band_fold_zh=s.asr_band_fold_zh,
        end_probe_en=s.asr_end_probe_en, end_probe_zh=s.asr_end_probe_zh,
    )


def tts_options(settings: Settings | None = None) -> TtsOptions:
    s = settings or get_settings()
    return TtsOptions(engine_en=s.tts_engine_en, engine_zh=s.tts_engine_zh)


def prompt_cache_options(settings: Settings | None = None) -> PromptCacheOptions:
    s = settings or get_settings()
    return PromptCacheOptions(folder=s.cache_dir / "prompts", recorded_dir=s.recorded_prompts_dir)


# What the dialog node expects next (dialogs' Decision.expect, nlu.types.EXPECTS) -> the answer kind the ASR
# prompt is chosen for (speech.asr.prompts.ANSWERS). Amounts and dates keep the domain prompt: a digits
# prompt would push "两千五" towards "25"; they have no dev-tuned prompt of their own yet.
ASR_ANSWER_FOR_EXPECT = {"id_last4": "digits"}


def asr_prompt_for(lang: str, expect: str | None, domain: str | None) -> str | None:
    """The ASR prompt for the callee's answer to a node that expects `expect`: the digits prompt after the
    ID question, else the call's domain prompt (`domain`)."""
    from speech.asr.prompts import answer_prompt

    return answer_prompt(lang, ASR_ANSWER_FOR_EXPECT.get(expect or ""), domain)
