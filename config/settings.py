"""`Settings`: the only reader of the environment and `.env`. Credentials are SecretStr and never printed.

With no `.env` every source is off and the bundled demo book runs offline.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """riskdash configuration from environment variables (prefix-free names, as listed in .env.example)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True, env_ignore_empty=True
    )

    riskdash_data_dir: Path = Field(default=Path("data"), description="snapshot store and caches")
    riskdash_risk_matrix: Path | None = Field(
        default=None, description="a risk_matrix.yaml to use instead of the shipped one"
    )

    ibkr_host: str = "127.0.0.1"
    ibkr_port: int | None = Field(default=None, description="TWS 7497/7496, IB Gateway 4002/4001; unset = IBKR off")
    ibkr_client_id: int = 17
    ibkr_accounts: str = Field(default="", description="comma-separated account ids; empty = all")
    ibkr_timeout_s: float = Field(default=10.0, gt=0)
    ibkr_greeks_wait_s: float = Field(default=5.0, gt=0, description="bound on waiting for model Greeks")
    ibkr_market_data_lines: int = Field(default=90, gt=0, le=100, description="market-data lines open at once")

    tastytrade_provider_secret: SecretStr | None = None
    tastytrade_refresh_token: SecretStr | None = None
    tastytrade_accounts: str = ""
    tastytrade_timeout_s: float = Field(default=10.0, gt=0)
    tastytrade_greeks_wait_s: float = Field(default=5.0, gt=0, description="bound on waiting for DXLink Greeks")

    market_data_enabled: bool = Field(default=False, description="fetch VIX/VIX3M/VVIX/SPX/rates from yfinance")

    polymarket_enabled: bool = False
    polymarket_gamma_url: str = "https://gamma-api.polymarket.com"
    polymarket_timeout_s: float = Field(default=5.0, gt=0)
    polymarket_cache_ttl_s: float = Field(default=900.0, gt=0)

    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_steps: int = Field(default=6, gt=0, le=20, description="tool-calling rounds before the loop stops")
    llm_max_tokens: int = Field(default=1200, gt=0)

    @property
    def ibkr_configured(self) -> bool:
        """True when an IBKR port is set."""
        return self.ibkr_port is not None

    @property
    def tastytrade_configured(self) -> bool:
        """True when both tastytrade OAuth secrets are set."""
        return self.tastytrade_provider_secret is not None and self.tastytrade_refresh_token is not None

    @property
    def llm_configured(self) -> bool:
        """True when an OpenAI-compatible endpoint and model are set."""
        return bool(self.llm_base_url and self.llm_model)


def load_settings(env_file: Path | None = None) -> Settings:
    """Settings from the environment and `env_file` (default `.env` in the working directory, if present)."""
    if env_file is None:
        return Settings()
    return Settings(_env_file=env_file)
