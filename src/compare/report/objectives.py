"""The national plan's development objectives (国发〔2015〕40号, part I (3)), to set provincial targets beside.

The national plan states no quantitative target: its objectives for 2018 (an overall statement
and four areas) and for 2025 are qualitative. The report shows each provincial target beside
the national objective whose area it measures, chosen from keywords of the target's indicator
(a reading aid, not a matching result). The English text is the translation the national
catalogue is built from (China Copyright and Media); the Chinese titles are the plan's own
headings of the four 2018 areas.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Where the national objectives are stated.
NATIONAL_OBJECTIVES_SOURCE = "国发〔2015〕40号, part I (3) Development objectives (English translation)"
#: Targets for this year or later are set beside the 2025 objective when no area fits.
VISION_YEAR = 2025


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class NationalObjective:
    """One qualitative objective of the national plan."""

    key: str
    year: int
    title_zh: str
    title_en: str
    text_en: str
    keywords: tuple[str, ...]  # indicator words that place a provincial target in this area

    @property
    def anchor(self) -> str:
        return f"objective-{self.key}"


NATIONAL_OBJECTIVES: tuple[NationalObjective, ...] = (
    NationalObjective(
        key="overall-2018",
        year=2018,
        title_zh="2018年总体目标",
        title_en="Overall objective for 2018",
        text_en=(
            "By 2018, the convergence of the Internet and all areas of the economy and society is to be "
            "further deepened, Internet-based new business models are to become a driver of economic growth,"
            " the role of the Internet in supporting entrepreneurship by the masses and innovation by the "
            "masses is to further strengthen, the Internet is to become a major means for providing public "
            "services, and a structure for integrated development between the online economy and the real "
            "economy is to be established."
        ),
        keywords=(),
    ),
    NationalObjective(
        key="economy",
        year=2018,
        title_zh="经济发展进一步提质增效",
        title_en="Economic development: quality and efficiency",
        text_en=(
            "Economic development is to further enhance in quality and grow in efficiency. The Internet is "
            "to gain positive effects in stimulating transformation and upgrading in manufacturing, "
            "agriculture, energy, environmental protection and other such sectors, labour productivity is to"
            " increase further. Internet-based new business models are to emerge incessantly, e-commerce and"
            " Internet finance are to develop rapidly, and its stimulating role to economic quality "
            "improvement and efficiency enhancement is to become even more prominent."
        ),
        keywords=_words(
            "电子商务 网络零售 电商 交易额 制造 工厂 工业 企业 农业 农产品 能源 金融 物流 软件 信息服务 产业 营业收入 主营业务 两化融合 增加值 规模 产值"
        ),
    ),
    NationalObjective(
        key="services",
        year=2018,
        title_zh="社会服务进一步便捷普惠",
        title_en="Social services: convenient and universal",
        text_en=(
            "Social services are to become more convenient and universal. The application of the Internet in"
            " areas of the people’s livelihood including healthcare, education and traffic is to become ever"
            " richer, public services are to become more varied, and the online-offline integration is to "
            "become closer. Social service resource allocation is to be optimized incessantly, so that the "
            "masses receive fairer, more efficient, better quality and more convenient services."
        ),
        keywords=_words(
            "医疗 医院 健康 养老 教育 学校 交通 政务 网上办理 审批 公共服务 社保 社会保障 就业 旅游 景区 扶贫 民生 一卡通"
        ),
    ),
    NationalObjective(
        key="infrastructure",
        year=2018,
        title_zh="基础支撑进一步夯实提升",
        title_en="Basic support: infrastructure and security",
        text_en=(
            "Basic support is to be further consolidated and improved. Network infrastructure and industrial"
            " bases are to be effectively consolidated and strengthened, application support and security "
            "guarantee capabilities are to strengthen clearly. The development of fixed broadband networks, "
            "next-generation mobile telecommunications networks and next-generation Internet is to "
            "accelerate, the Internet of Things, cloud computing and other such novel infrastructure is to "
            "become more complete. Man-made artificial intelligence technologies and capabilities for their "
            "industrialization are to strengthen clearly."
        ),
        keywords=_words(
            "宽带 光纤 光网 4G 5G 移动网络 网络覆盖 互联网普及 普及率 接入 带宽 物联网 云计算 数据中心 无线 WiFi WLAN 网络安全 基站"
        ),
    ),
    NationalObjective(
        key="environment",
        year=2018,
        title_zh="发展环境进一步开放包容",
        title_en="Development environment: open and inclusive",
        text_en=(
            "The development environment is to be further opened up and made inclusive. All of society is to"
            " incessantly deepen its understanding of Internet convergence and innovation, the structural "
            "and mechanistic obstacles that converged Internet development faces are to be effectively "
            "eliminated, public data resource openness is to be substantively enhanced, corresponding "
            "standards, norms, credit systems, laws and regulations are to be progressively perfected."
        ),
        keywords=_words("数据开放 开放数据 标准 信用 法规 知识产权 人才 培训"),
    ),
    NationalObjective(
        key="vision-2025",
        year=2025,
        title_zh="2025年目标",
        title_en="Objective for 2025",
        text_en=(
            "By 2025, a networked, intelligent, service-oriented and coordinated “Internet Plus” industrial "
            "ecology system is to be basically completed, the beginnings of a new “Internet Plus” industry "
            "shape are to be formed, and “Internet Plus” is to become an important driving force for "
            "economic and social innovation and development."
        ),
        keywords=(),
    ),
)
_OVERALL = NATIONAL_OBJECTIVES[0]
_VISION = NATIONAL_OBJECTIVES[-1]


def national_objective(indicator: str | None, year: int | None) -> NationalObjective:
    """The national objective a provincial target with this indicator and year is set beside."""
    text = indicator or ""
    for objective in NATIONAL_OBJECTIVES:
        if any(word in text for word in objective.keywords):
            return objective
    if year is not None and year >= VISION_YEAR:
        return _VISION
    return _OVERALL
