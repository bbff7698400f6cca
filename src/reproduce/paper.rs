//! The numbers the InfScaler paper reports (../shared/seeds/infscaler-paper.txt: B. Li, T. Xia,
//! S. Wang, S. Wang, "INFSCALER: Enabling Efficient ML Inference Serving on Multi-Accelerator
//! Edge Devices via Asymmetric Auto-Scaling"), each with where it is stated.

/// §II-B, Fig. 2: P_5^2 P_13^3 P_24^2 has "16.5% throughput improvement against the
/// second-performed baseline P_24^3 ... with 31.5% less resources used".
pub const FIG2_BEST: &str = "P_5^2 P_13^3 P_24^2";
/// §II-B, Fig. 2: the second-best configuration, the whole model on three instances.
pub const FIG2_SECOND: &str = "P_24^3";
/// §II-B: throughput of [`FIG2_BEST`] over [`FIG2_SECOND`] (+16.5 %).
pub const FIG2_THROUGHPUT_GAIN: f64 = 0.165;
/// §II-B: resources of [`FIG2_BEST`] against [`FIG2_SECOND`] (−31.5 %).
pub const FIG2_RESOURCE_CHANGE: f64 = -0.315;

/// §V-B "Throughput optimization" (Fig. 5): InfScaler's average throughput improvement over
/// SPRIGHT, INFless and Knative: "34.78%, 48.14%, and 126.59%".
pub const FIG5_AVERAGE_GAIN: [(&str, f64); 3] = [
    ("spright", 0.3478),
    ("infless", 0.4814),
    ("knative", 1.2659),
];
/// §V-B: "under the low workload pressure (SLO=3.0x), INFSCALER achieves 23.87% throughput
/// improvement against the best-performed counterparts, SPRIGHT".
pub const FIG5_GAIN_AT_3X: f64 = 0.2387;
/// §V-B: "When it comes to high workload pressure (SLO=1.5x), INFSCALER can achieve 40.82%".
pub const FIG5_GAIN_AT_1_5X: f64 = 0.4082;

/// Table II: memory in MB under the MAF trace at SLO 2.0× — rows TM, LT, PT, LPR, VU; columns
/// INFSCALER, SPRIGHT, INFless, Knative; `None` where the paper prints N/A (the SLO was not met;
/// footnote ‡: "the state-of-the-arts fails to meet the SLO of VU application").
pub const TABLE2_MEMORY_MB: [(&str, [Option<f64>; 4]); 5] = [
    (
        "tm",
        [Some(7570.85), Some(9732.45), Some(8489.23), Some(10416.96)],
    ),
    ("lt", [Some(13808.67), Some(14735.2), Some(15848.44), None]),
    (
        "pt",
        [
            Some(10935.03),
            Some(13979.08),
            Some(12216.01),
            Some(13383.16),
        ],
    ),
    (
        "lpr",
        [Some(5573.82), Some(6882.41), Some(7007.03), Some(6993.59)],
    ),
    ("vu", [Some(15706.17), None, None, None]),
];
/// The column order of [`TABLE2_MEMORY_MB`].
pub const TABLE2_SYSTEMS: [&str; 4] = ["infscaler", "spright", "infless", "knative"];
/// §V-B "Resource usage efficiency": "10.49%-27.32% of resource usage reduction".
pub const TABLE2_REDUCTION_RANGE: (f64, f64) = (0.1049, 0.2732);

/// §V-B "Overhead analysis" (Fig. 6): "the data transferring overhead is reduced to less than
/// 1 ms with our accelerator-agnostic tensor sharing mechanism".
pub const FIG6_BOUND_MS: f64 = 1.0;

/// §V-B (Fig. 7), in words: "at low throughputs, the memory overhead leads to excessive resource
/// usage because SPRIGHT does not include a partitioning strategy. As the throughput increases,
/// the benefit of our asymmetric auto-scaling outweighs the overhead."
pub const FIG7_CLAIM: &str = "InfScaler uses more memory than SPRIGHT at low throughput and \
                              less at high throughput";
