# ruff: noqa: RUF001, E501 (a catalogue: full-width punctuation, one message a line)
"""The pages' translation catalogue: English message ids, Simplified Chinese translations.

Every visible string of the pages goes through `Translator.__call__` (`_()` in templates).
English is the message id itself; `ZH` translates every one of them (tests/api/test_pages.py
checks that no message id of the templates, the labels below or the page code is missing).
The language comes from the page's `lang` switch, else from `Accept-Language`, else English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"

# Labels of stored values (levels, statuses, agreement terms, scheme types), by value.
LEVELS = {
    "native": "Native (home scheme)",
    "full": "Full recognition",
    "conditional": "Conditional recognition",
    "assessment_results": "Assessment results accepted",
}
STATUSES = {"active": "Active", "suspended": "Suspended", "withdrawn": "Withdrawn"}
DIRECTIONS = {"mutual": "Mutual", "unilateral": "Unilateral"}
CHAINING = {"allowed": "Chaining allowed", "not_allowed": "No chaining"}
KINDS = {"country": "Country", "group": "Group of economies"}
SCHEME_TYPES = {
    "iso14024": "ISO 14024 (Type I eco-label)",
    "iso14021": "ISO 14021 (self-declared claim)",
    "iso14025": "ISO 14025 (environmental declaration)",
    "green-product": "Green product certification",
    "energy": "Energy label",
    "other": "Other",
}
COVERAGE = {"complete": "Every valid certificate is registered", "partial": "Partial"}
# Why a receipt does not verify, by the code of `services.signing.ReceiptInvalid` ("keys":
# the registry's own keys cannot be read).
RECEIPT_FAILURES = {
    "form": "This is not a receipt: a receipt is three parts of letters and digits joined by dots.",
    "header": "The receipt's header is not that of a decision receipt.",
    "algorithm": "The receipt uses a signature algorithm the registry does not accept.",
    "unknown_key": "The receipt was not signed by any of the registry's published keys.",
    "signature": "The signature does not match: the receipt was changed after it was signed, or another key signed it.",
    "credential": "The signed content is not a decision of this registry.",
    "keys": "The registry's keys cannot be read now; try again later.",
}
LABEL_SETS: tuple[Mapping[str, str], ...] = (
    LEVELS,
    STATUSES,
    DIRECTIONS,
    CHAINING,
    KINDS,
    SCHEME_TYPES,
    COVERAGE,
    RECEIPT_FAILURES,
)

ZH: dict[str, str] = {
    # Layout
    "Eco-label mutual recognition registry": "生态标签互认登记库",
    "Skip to content": "跳到正文",
    "Language": "语言",
    "Search": "搜索",
    "Recognition matrix": "互认矩阵",
    "API documentation": "API 文档",
    "Interactive API documentation (Swagger UI)": "交互式 API 文档（Swagger UI）",
    "API reference (ReDoc)": "API 参考（ReDoc）",
    "OpenAPI document": "OpenAPI 文档",
    "Health": "健康检查",
    "Not found": "未找到",
    "Nothing here: the address names nothing in the registry.": "此地址在登记库中不存在。",
    "Back to search": "返回搜索",
    "Not a valid request": "请求无效",
    # Search
    "Find a certificate or a scheme": "查找证书或标签计划",
    "Certificate number, holder, product, brand, model or GTIN": "证书编号、持证人、产品、品牌、型号或 GTIN",
    "Certificates": "证书",
    "Schemes": "标签计划",
    "No certificate matches.": "没有匹配的证书。",
    "No scheme matches.": "没有匹配的标签计划。",
    "Next page": "下一页",
    "Number": "编号",
    "Holder": "持证人",
    "Product": "产品",
    "Scheme": "标签计划",
    "Status today": "今日状态",
    "Valid": "有效期",
    "Operator": "运营方",
    "Type": "类型",
    "Home economies": "所属经济体",
    "An open registry of eco-label schemes, certificates and mutual recognition agreements.": "一个开放的生态标签计划、证书与互认协议登记库。",
    # Certificate
    "Certificate": "证书",
    "Category": "产品类别",
    "Brand": "品牌",
    "Model": "型号",
    "Validity": "有效期",
    "from": "自",
    "to": "至",
    "Status on this date": "该日期的状态",
    "Status timeline": "状态时间线",
    "Effective": "生效日期",
    "Status": "状态",
    "Reason": "原因",
    "Where it counts": "在哪些经济体得到认可",
    "Date": "日期",
    "Show": "显示",
    "Economy": "经济体",
    "Level": "认可级别",
    "Conditions": "条件",
    "Valid until": "有效至",
    "Through": "依据",
    "Home scheme": "本国标签计划",
    "none": "无",
    "open-ended": "无固定期限",
    "Not recognized in any economy on this date.": "该日期在任何经济体均未获认可。",
    "QR code linking to this page": "链接到本页的二维码",
    "Scan to open this page": "扫码打开本页",
    "Recognized in {n} economies on {day}.": "{day} 在 {n} 个经济体获得认可。",
    "Agreements used": "所依据的协议",
    "World map of where this certificate counts on {day}: {n} countries coloured by level. The table below lists every economy.": "{day} 本证书获认可地区的世界地图：{n} 个国家按认可级别着色。下表列出全部经济体。",
    "A recognition in a group holds in each of its member countries on the date.": "在经济体组合中获得的认可，适用于该日期的每个成员国。",
    "Not on the map, which has no shape for them: {economies}.": "地图上没有以下经济体的轮廓，未予绘出：{economies}。",
    # Scheme
    "Product categories": "产品类别",
    "Code": "代码",
    "Name": "名称",
    "Criteria version": "标准版本",
    "HS codes": "HS 编码",
    "Website": "网站",
    "Agreements": "互认协议",
    "Certificate coverage": "证书覆盖范围",
    "Search its certificates": "搜索其证书",
    "Certificates of this scheme": "本计划的证书",
    # Agreement
    "Agreement": "互认协议",
    "Reference": "参考编号",
    "Signed on": "签署日期",
    "Direction": "方向",
    "Chaining": "链式认可",
    "In force": "生效期",
    "Parties": "缔约计划",
    "Scope": "范围",
    "Recognized scheme": "被认可计划",
    "Recognizing scheme": "认可方计划",
    "every other party": "其他所有缔约方",
    "every category": "所有类别",
    "Agreement text": "协议文本",
    "Status history": "状态历史",
    # Economy
    "Members": "成员",
    "Member": "成员",
    "Schemes operating here": "在此运营的标签计划",
    "Agreements of its schemes": "其标签计划的协议",
    "Kind": "种类",
    # Matrix
    "Best recognition level of each scheme in each economy on a date.": "各标签计划在某日期于各经济体的最高认可级别。",
    "Scheme type": "计划类型",
    "HS code (product)": "HS 编码（产品）",
    "any": "任意",
    "Filter": "筛选",
    "Download CSV": "下载 CSV",
    "No scheme is recognized outside its home on this date.": "该日期没有计划在本国以外获认可。",
    "A cell shows the best level over the scheme's categories valid on the date.": "每个单元格显示该计划在该日期有效的各类别中的最高认可级别。",
    # Labels
    "Native (home scheme)": "本国计划",
    "Full recognition": "完全认可",
    "Conditional recognition": "有条件认可",
    "Assessment results accepted": "接受评估结果",
    "Active": "有效",
    "Suspended": "暂停",
    "Withdrawn": "撤销",
    "Mutual": "相互",
    "Unilateral": "单向",
    "Chaining allowed": "允许链式认可",
    "No chaining": "不允许链式认可",
    "Country": "国家",
    "Group of economies": "经济体组合",
    "ISO 14024 (Type I eco-label)": "ISO 14024（I 型环境标志）",
    "ISO 14021 (self-declared claim)": "ISO 14021（自我声明）",
    "ISO 14025 (environmental declaration)": "ISO 14025（环境声明）",
    "Other": "其他",
    "Green product certification": "绿色产品认证",
    "Energy label": "能效标识",
    "Every valid certificate is registered": "所有有效证书均已登记",
    "Partial": "部分",
}
ZH.update(
    {
        # Receipt verification
        "Verify a receipt": "验证收据",
        "Paste a decision receipt to check that the registry signed it and that nothing in it has changed. The signature is checked against the registry's published keys.": "粘贴一份决定收据，以核实其由本登记库签发且内容未被改动。签名将以本登记库公布的密钥核验。",
        "Receipt": "收据",
        "Check": "核验",
        "Paste a receipt first.": "请先粘贴收据。",
        "The receipt is valid": "收据有效",
        "The receipt does not verify": "收据未通过验证",
        "The registry signed this decision, and nothing in it has changed since.": "本登记库签发了此决定，且其内容自签发后未被改动。",
        "Technical detail": "技术细节",
        "Issued by": "签发方",
        "Recorded at": "记录时间",
        "Registry revision": "登记库版本",
        "Decision": "决定",
        "Question": "问题",
        "Answer": "答复",
        "Target economy": "目标经济体",
        "On": "日期",
        "HS code": "HS 编码",
        "Recognized": "获得认可",
        "Not recognized": "未获认可",
        "Explanation": "说明",
        "Lines": "条目",
        "Line": "条目",
        "Your reference": "您的参考号",
        "Result": "结果",
        "Error": "错误",
        "not a valid line": "无效条目",
        "Showing the first {shown} of {total} lines.": "显示 {total} 条中的前 {shown} 条。",
        "{lines} lines: {recognized} recognized, {not_recognized} not recognized, {errors} errors.": "{lines} 条：{recognized} 条获认可，{not_recognized} 条未获认可，{errors} 条错误。",
        "What a receipt proves": "收据能证明什么",
        "It proves that the registry gave this answer to this question at this instant. It does not prove that the answer is still the registry's answer today.": "它证明本登记库在此时刻对此问题给出了此答复；但不能证明该答复今天仍然成立。",
        "The decision as JSON": "决定的 JSON 数据",
        "Verify another receipt": "验证另一份收据",
        "The receipt as pasted": "所粘贴的收据",
        # Receipt failures
        "This is not a receipt: a receipt is three parts of letters and digits joined by dots.": "这不是收据：收据由三段字母和数字组成，以点连接。",
        "The receipt's header is not that of a decision receipt.": "收据的头部不是决定收据的头部。",
        "The receipt uses a signature algorithm the registry does not accept.": "收据使用了本登记库不接受的签名算法。",
        "The receipt was not signed by any of the registry's published keys.": "收据并非由本登记库公布的任何密钥签发。",
        "The signature does not match: the receipt was changed after it was signed, or another key signed it.": "签名不匹配：收据在签发后被改动过，或由其他密钥签发。",
        "The signed content is not a decision of this registry.": "签名内容不是本登记库的决定。",
        "The registry's keys cannot be read now; try again later.": "目前无法读取本登记库的密钥，请稍后再试。",
    }
)
CATALOGUES: dict[str, Mapping[str, str]] = {"en": {}, "zh": ZH}


@dataclass(frozen=True, slots=True)
class Translator:
    """Messages in one language; an id with no translation is shown in English."""

    lang: str

    def __call__(self, message: str) -> str:
        return CATALOGUES[self.lang].get(message, message)

    def label(self, labels: Mapping[str, str], value: str | None) -> str:
        """The translated label of a stored value (its value when it has none)."""
        if value is None:
            return ""
        return self(labels.get(value, value))


def negotiate(chosen: str | None, accept_language: str | None) -> str:
    """The page's language: the switch's choice, else the best of Accept-Language."""
    if chosen in LANGUAGES:
        return chosen
    best, best_q = DEFAULT, -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best
