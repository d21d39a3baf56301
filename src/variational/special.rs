//! The special functions of the variational bounds: ψ (digamma), ln Γ and ln B.

/// ψ(x) = d/dx ln Γ(x) for x > 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then
/// the asymptotic series to x⁻¹⁴ (error below 1e-16 relative there).
pub fn digamma(x: f64) -> f64 {
    if x == f64::INFINITY {
        return x;
    }
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut x = x;
    let mut shift = 0.0;
    while x < 10.0 {
        shift -= 1.0 / x;
        x += 1.0;
    }
    let r = 1.0 / (x * x);
    // Bernoulli terms B_2n / (2n x^2n), n = 1..7, in Horner form.
    let series = r
        * (1.0 / 12.0
            - r * (1.0 / 120.0
                - r * (1.0 / 252.0
                    - r * (1.0 / 240.0 - r * (1.0 / 132.0 - r * (691.0 / 32760.0 - r / 12.0))))));
    shift + x.ln() - 0.5 / x - series
}

/// ln Γ(x) for x > 0 (musl's `lgamma`, through the `libm` crate).
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b).
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

    #[test]
    fn digamma_matches_closed_forms_and_its_recurrence() {
        assert!(
            (digamma(1.0) + EULER_GAMMA).abs() < 1e-15,
            "{:e}",
            digamma(1.0) + EULER_GAMMA
        );
        let half = -EULER_GAMMA - 2.0 * std::f64::consts::LN_2;
        assert!((digamma(0.5) - half).abs() < 1e-15);
        // ψ(n) = −γ + Σ_{j<n} 1/j
        let h9: f64 = (1..10).map(|j| 1.0 / j as f64).sum();
        assert!((digamma(10.0) - (h9 - EULER_GAMMA)).abs() < 1e-15);
        for &x in &[0.01, 0.3, 1.7, 5.9, 6.0, 6.1, 42.5, 1e4, 1e8] {
            let rel = (digamma(x + 1.0) - digamma(x) - 1.0 / x).abs() / (1.0 / x).max(1.0);
            assert!(rel < 1e-14, "recurrence at {x}: {rel}");
        }
        assert!(digamma(0.0).is_nan() && digamma(-1.0).is_nan());
    }

    #[test]
    fn ln_gamma_and_ln_beta_match_factorials() {
        // Γ(n) = (n − 1)!, B(a, b) = Γ(a)Γ(b)/Γ(a+b)
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-15);
        let b = (2.0f64 * 6.0 / 720.0).ln(); // B(3, 4) = 2!·3!/6!
        assert!((ln_beta(3.0, 4.0) - b).abs() < 1e-14);
    }
}
