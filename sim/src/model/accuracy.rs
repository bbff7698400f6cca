//! Published accuracy of zoo models, and variant families: models of one task that trade
//! accuracy for speed (Proteus and InfAdapter choose among them; ../shared/THESIS.md §5, §7).
//!
//! Every figure is the one its source publishes for the weights the zoo's layout reproduces;
//! random weights time the same as trained ones, so the simulator takes a model's accuracy from
//! here and its cost from its layers. Classifiers: ImageNet-1K validation top-1, as the
//! torchvision weights' model cards give it (`acc@1` of `<Model>_Weights.IMAGENET1K_V1`).
//! Detectors: COCO mAP at IoU 0.5, from the darknet performance table.

use serde::{Deserialize, Serialize};

/// What an accuracy figure measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// ImageNet-1K validation top-1 accuracy, %.
    Top1,
    /// COCO mean average precision at IoU 0.5, %.
    Map50,
}

impl Metric {
    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Top1 => "ImageNet top-1",
            Metric::Map50 => "COCO mAP@0.5",
        }
    }
}

/// One model's published accuracy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Published {
    /// Zoo name.
    pub model: &'static str,
    /// What is measured.
    pub metric: Metric,
    /// The figure, %.
    pub percent: f64,
    /// Where it is published.
    pub source: &'static str,
}

const TV: &str = "torchvision model card, IMAGENET1K_V1 weights, acc@1";
// pjreddie.com/darknet/yolo, performance table (COCO test-dev): "YOLOv3-416 … 55.3" mAP,
// "YOLOv3-tiny … 33.1" mAP; the table's mAP is at IoU 0.5 (Redmon & Farhadi 2018, Table 3,
// AP50 column, gives 55.3 for YOLOv3 416 as well).
const DARKNET: &str = "pjreddie.com/darknet/yolo performance table (COCO test-dev mAP@0.5)";

const fn top1(model: &'static str, percent: f64) -> Published {
    Published {
        model,
        metric: Metric::Top1,
        percent,
        source: TV,
    }
}

/// Every model with a published accuracy.
static PUBLISHED: &[Published] = &[
    top1("resnet18", 69.758),
    top1("resnet34", 73.314),
    top1("resnet50", 76.130),
    top1("resnet101", 77.374),
    top1("resnet152", 78.312),
    top1("vgg11", 69.020),
    top1("vgg13", 69.928),
    top1("vgg16", 71.592),
    top1("vgg19", 72.376),
    top1("vgg11_bn", 70.370),
    top1("vgg13_bn", 71.586),
    top1("vgg16_bn", 73.360),
    top1("vgg19_bn", 74.218),
    top1("densenet121", 74.434),
    top1("densenet169", 75.600),
    top1("densenet201", 76.896),
    top1("densenet161", 77.138),
    top1("shufflenet_v2_x0_5", 60.552),
    top1("shufflenet_v2_x1_0", 69.362),
    top1("shufflenet_v2_x1_5", 72.996),
    top1("shufflenet_v2_x2_0", 76.230),
    top1("mnasnet0_5", 67.734),
    top1("mnasnet0_75", 71.180),
    top1("mnasnet1_0", 73.456),
    top1("mnasnet1_3", 76.506),
    top1("squeezenet1_0", 58.092),
    top1("squeezenet1_1", 58.178),
    top1("mobilenet_v2", 71.878),
    Published {
        model: "yolov3_tiny",
        metric: Metric::Map50,
        percent: 33.1,
        source: DARKNET,
    },
    Published {
        model: "yolov3",
        metric: Metric::Map50,
        percent: 55.3,
        source: DARKNET,
    },
];

/// Models of one task and one metric, from fastest to most accurate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    /// Name used in scenarios (`app.family`).
    pub name: &'static str,
    /// Its zoo models, in ascending published accuracy.
    pub members: &'static [&'static str],
}

/// Every family.
pub static FAMILIES: &[Family] = &[
    Family {
        name: "resnet",
        members: &["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"],
    },
    Family {
        name: "vgg",
        members: &["vgg11", "vgg13", "vgg16", "vgg19"],
    },
    Family {
        name: "vgg_bn",
        members: &["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"],
    },
    Family {
        name: "densenet",
        members: &["densenet121", "densenet169", "densenet201", "densenet161"],
    },
    Family {
        name: "shufflenet_v2",
        members: &[
            "shufflenet_v2_x0_5",
            "shufflenet_v2_x1_0",
            "shufflenet_v2_x1_5",
            "shufflenet_v2_x2_0",
        ],
    },
    Family {
        name: "mnasnet",
        members: &["mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"],
    },
    Family {
        name: "squeezenet",
        members: &["squeezenet1_0", "squeezenet1_1"],
    },
    Family {
        name: "yolov3",
        members: &["yolov3_tiny", "yolov3"],
    },
];

/// The published accuracy of zoo model `model`, if any.
pub fn published(model: &str) -> Option<&'static Published> {
    PUBLISHED.iter().find(|p| p.model == model)
}

/// The family named `name` (case-insensitive).
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name.eq_ignore_ascii_case(name))
}

/// The family `model` belongs to, if any.
pub fn family_of(model: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.members.contains(&model))
}

/// The names of every family, comma-separated (for error messages).
pub fn family_names() -> String {
    FAMILIES
        .iter()
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Family {
    /// Its most accurate member's figure.
    pub fn best(&self) -> &'static Published {
        self.members
            .iter()
            .filter_map(|m| published(m))
            .max_by(|a, b| a.percent.total_cmp(&b.percent))
            .expect("a family's members are published")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_zoo_models_of_one_metric_in_ascending_accuracy() {
        let zoo: Vec<&str> = crate::model::zoo::names().collect();
        for f in FAMILIES {
            assert!(f.members.len() >= 2, "{}", f.name);
            let figures: Vec<&Published> = f
                .members
                .iter()
                .map(|m| {
                    assert!(zoo.contains(m), "{m} is not in the zoo");
                    published(m).unwrap_or_else(|| panic!("{m} has no published accuracy"))
                })
                .collect();
            assert!(figures.iter().all(|p| p.metric == figures[0].metric));
            assert!(
                figures.windows(2).all(|w| w[0].percent < w[1].percent),
                "{} is not in ascending accuracy",
                f.name
            );
            assert_eq!(f.best().model, *f.members.last().unwrap());
        }
        for p in PUBLISHED {
            assert!(zoo.contains(&p.model), "{} is not in the zoo", p.model);
            assert!(p.percent > 0.0 && p.percent < 100.0);
        }
        assert_eq!(family_of("resnet50").map(|f| f.name), Some("resnet"));
        assert_eq!(family("ResNet").map(|f| f.members.len()), Some(5));
        assert!(family_of("alexnet").is_none());
    }
}
