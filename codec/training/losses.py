"""Reconstruction losses: multi-scale log-mel L1 (spectral envelope) and an SNR term (the waveform itself)."""

from __future__ import annotations

import torch

from codec.spectrogram import mel_filterbank

MEL_SCALES = (128, 256, 512, 1024, 2048)  # STFT sizes; hop is a quarter of each
# Mel power below -80 dB (full scale = 1) counts as silence: a codec's output there is inaudible.
MEL_FLOOR = 1e-8


class ReconstructionLoss(torch.nn.Module):
    def __init__(self, sample_rate: int, n_mels: int = 64) -> None:
        super().__init__()
        self.scales = MEL_SCALES
        for n_fft in self.scales:
            bands = min(n_mels, n_fft // 4)
            bank = torch.from_numpy(mel_filterbank(sample_rate, n_fft, bands)).float()  # [bands, bins]
            self.register_buffer(f"mel_{n_fft}", bank)
            self.register_buffer(f"window_{n_fft}", torch.hann_window(n_fft))

    def log_mel(self, audio: torch.Tensor, n_fft: int) -> torch.Tensor:
        spectrum = torch.stft(
            audio, n_fft, n_fft // 4, window=getattr(self, f"window_{n_fft}"), return_complex=True
        )
        power = spectrum.real**2 + spectrum.imag**2
        mel = torch.einsum("mf,bft->bmt", getattr(self, f"mel_{n_fft}"), power)
        return torch.log10(mel + MEL_FLOOR)

    def mel_loss(self, reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """Mean over scales of the L1 distance of log10 mel power (1.0 = 10 dB on average)."""
        total = reference.new_zeros(())
        for n_fft in self.scales:
            total = total + (self.log_mel(reference, n_fft) - self.log_mel(estimate, n_fft)).abs().mean()
        return total / len(self.scales)

    @staticmethod
    def snr_loss(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        """-SNR / 10 dB, averaged over the batch: its gradient does not fade as the error gets small."""
        noise = (reference - estimate).pow(2).sum(-1)
        signal = reference.pow(2).sum(-1)
        return (torch.log10(noise + 1e-6) - torch.log10(signal + 1e-6)).mean()

    def forward(self, reference: torch.Tensor, estimate: torch.Tensor) -> dict[str, torch.Tensor]:
        """reference, estimate: [B, T] waveforms."""
        return {"mel": self.mel_loss(reference, estimate), "snr": self.snr_loss(reference, estimate)}
