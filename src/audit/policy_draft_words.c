/*
 * policy_draft_words.c - the words a policy is read by.
 *
 * Tables of phrases (Chinese and English) and what each stands for: the
 * purpose vocabulary and data categories of docs/policy.md, the keys of
 * SDK tables, storage regions, and the markers of consent, transfers abroad,
 * encryption and "we do not use". Needles follow dfind(): ASCII letters
 * compare without case, on word boundaries, and a trailing '*' matches any
 * continuation ("advertis*"). Every table ends with a NULL needle.
 */
#include "policy_draft_int.h"

#include <stddef.h>

const struct dword dw_purposes[] = {
	{"广告", "advertising"}, {"advertis*", "advertising"}, {"ads", "advertising"},
	{"ad", "advertising"}, {"monetiz*", "advertising"}, {"monetis*", "advertising"},
	{"变现", "advertising"}, {"营销", "advertising"}, {"marketing", "advertising"},
	{"统计", "analytics"}, {"分析", "analytics"}, {"analytic*", "analytics"},
	{"statistic*", "analytics"}, {"归因", "attribution"}, {"attribution", "attribution"},
	{"渠道", "attribution"}, {"install tracking", "attribution"}, {"崩溃", "crash_reporting"},
	{"crash*", "crash_reporting"}, {"异常上报", "crash_reporting"}, {"推送", "push"},
	{"push*", "push"}, {"notification*", "push"}, {"第三方登录", "social_login"},
	{"微信登录", "social_login"}, {"QQ登录", "social_login"}, {"微博登录", "social_login"},
	{"分享", "social_login"}, {"社交", "social_login"}, {"social*", "social_login"},
	{"sign in with", "social_login"}, {"一键登录", "authentication"},
	{"登录", "authentication"}, {"认证", "authentication"}, {"验证", "authentication"},
	{"实名", "authentication"}, {"login", "authentication"}, {"log in", "authentication"},
	{"sign-in", "authentication"}, {"authenticat*", "authentication"},
	{"verif*", "authentication"}, {"定位", "location"}, {"位置", "location"},
	{"location*", "location"}, {"地图", "maps"}, {"导航", "maps"}, {"map", "maps"},
	{"maps", "maps"}, {"支付", "payments"}, {"付款", "payments"}, {"充值", "payments"},
	{"payment*", "payments"}, {"purchas*", "payments"},
	{"billing", "payments"}, {"客服", "customer_messaging"}, {"即时通讯", "customer_messaging"},
	{"聊天", "customer_messaging"}, {"IM", "customer_messaging"},
	{"customer support", "customer_messaging"}, {"customer service", "customer_messaging"},
	{"messaging", "customer_messaging"}, {"chat", "customer_messaging"},
	{"远程配置", "remote_config"}, {"remote config*", "remote_config"},
	{"性能", "performance_monitoring"}, {"卡顿", "performance_monitoring"},
	{"APM", "performance_monitoring"}, {"performance monitor*", "performance_monitoring"},
	{"CDN", "cdn"}, {"加速", "cdn"}, {"云存储", "cloud"}, {"对象存储", "cloud"},
	{"云服务", "cloud"}, {"cloud", "cloud"}, {"安全", "security"}, {"风控", "security"},
	{"作弊", "security"}, {"欺诈", "security"}, {"验证码", "security"},
	{"security", "security"}, {"fraud", "security"}, {"anti-cheat*", "security"},
	{"captcha", "security"}, {"播放", "content"}, {"浏览器", "content"}, {"webview", "content"},
	{"playback", "content"}, {NULL, NULL},
};

/* "location" alone stands for both precise and approximate location. */
const struct dword dw_data[] = {
	{"设备信息", "device_id"}, {"设备标识", "device_id"}, {"设备识别", "device_id"},
	{"设备ID", "device_id"}, {"device information", "device_id"},
	{"device identif*", "device_id"}, {"device ID*", "device_id"}, {"UDID", "device_id"},
	{"IDFV", "device_id"}, {"IMEI", "imei"}, {"MEID", "imei"}, {"IMSI", "imsi"},
	{"ICCID", "iccid"}, {"Android ID", "android_id"}, {"AndroidID", "android_id"},
	{"ANDROID_ID", "android_id"}, {"SSAID", "android_id"}, {"序列号", "serial"},
	{"serial number*", "serial"}, {"MAC", "mac"}, {"OAID", "advertising_id"},
	{"IDFA", "advertising_id"}, {"GAID", "advertising_id"}, {"AAID", "advertising_id"},
	{"advertising ID*", "advertising_id"}, {"advertising identifier*", "advertising_id"},
	{"广告标识", "advertising_id"}, {"广告ID", "advertising_id"}, {"手机号", "phone"},
	{"电话号码", "phone"}, {"本机号码", "phone"}, {"phone number*", "phone"},
	{"mobile number*", "phone"}, {"邮箱", "email"}, {"电子邮件", "email"},
	{"email address*", "email"}, {"e-mail address*", "email"},
	{"精确位置", "precise_location"}, {"精确定位", "precise_location"},
	{"GPS", "precise_location"}, {"经纬度", "precise_location"},
	{"precise location", "precise_location"}, {"粗略位置", "approx_location"},
	{"大致位置", "approx_location"}, {"approximate location", "approx_location"},
	{"coarse location", "approx_location"}, {"位置信息", "location"}, {"地理位置", "location"},
	{"location", "location"}, {"IP地址", "ip_address"}, {"IP", "ip_address"},
	{"IP address*", "ip_address"}, {"通讯录", "contacts"}, {"联系人", "contacts"},
	{"contacts", "contacts"}, {"address book", "contacts"}, {"麦克风", "audio"},
	{"录音", "audio"}, {"音频", "audio"}, {"语音", "audio"}, {"microphone", "audio"},
	{"audio", "audio"}, {"voice", "audio"}, {"相册", "images"}, {"照片", "images"},
	{"图片", "images"}, {"photo*", "images"}, {"image*", "images"}, {"picture*", "images"},
	{"视频", "video"}, {"video*", "video"}, {"剪切板", "clipboard"}, {"剪贴板", "clipboard"},
	{"粘贴板", "clipboard"}, {"clipboard", "clipboard"}, {"使用情况", "usage_data"},
	{"行为", "usage_data"}, {"日志", "usage_data"}, {"浏览记录", "usage_data"},
	{"usage", "usage_data"}, {"log data", "usage_data"}, {"logs", "usage_data"},
	{"behavio*", "usage_data"}, {"崩溃", "crash_data"}, {"crash*", "crash_data"},
	{"错误日志", "crash_data"}, {"账号", "account"}, {"帐号", "account"},
	{"用户名", "account"}, {"昵称", "account"}, {"姓名", "account"}, {"身份证", "account"},
	{"头像", "account"}, {"account*", "account"}, {"user ID*", "account"},
	{"username", "account"}, {"nickname", "account"}, {"your name", "account"},
	{"full name", "account"}, {"real name", "account"},
	{"ID number", "account"}, {"支付信息", "payment"}, {"银行卡", "payment"},
	{"payment*", "payment"}, {"credit card*", "payment"}, {"card number*", "payment"},
	{NULL, NULL},
};



const struct dtable_key dw_table_keys[] = {
	{"第三方SDK名称", K_NAME}, {"SDK名称", K_NAME}, {"SDK 名称", K_NAME},
	{"插件名称", K_NAME}, {"产品/类型", K_NAME}, {"SDK name", K_NAME}, {"Name of SDK", K_NAME},
	{"Name of the SDK", K_NAME}, {"SDK", K_NAME}, {"名称", K_NAME}, {"Name", K_NAME},
	{"使用目的", K_PURPOSE}, {"SDK用途", K_PURPOSE}, {"用途", K_PURPOSE},
	{"目的", K_PURPOSE}, {"使用场景", K_PURPOSE}, {"业务场景", K_PURPOSE},
	{"功能类型", K_PURPOSE}, {"功能", K_PURPOSE}, {"Purpose of use", K_PURPOSE},
	{"Purposes", K_PURPOSE}, {"Purpose", K_PURPOSE}, {"Function", K_PURPOSE},
	{"Functions", K_PURPOSE}, {"收集的个人信息类型", K_DATA}, {"收集个人信息类型", K_DATA},
	{"收集的个人信息", K_DATA}, {"收集个人信息", K_DATA}, {"收集的信息", K_DATA},
	{"收集信息", K_DATA}, {"个人信息类型", K_DATA}, {"个人信息字段", K_DATA},
	{"个人信息种类", K_DATA}, {"涉及的个人信息", K_DATA}, {"涉及个人信息", K_DATA},
	{"共享的个人信息", K_DATA}, {"共享个人信息", K_DATA}, {"处理的个人信息", K_DATA},
	{"使用的个人信息", K_DATA}, {"信息类型", K_DATA}, {"数据类型", K_DATA},
	{"Data collected", K_DATA}, {"Data shared", K_DATA},
	{"Personal information collected", K_DATA}, {"Personal data collected", K_DATA},
	{"Information collected", K_DATA}, {"Collected data", K_DATA},
	{"Types of data", K_DATA}, {"Data types", K_DATA}, {"Data", K_DATA},
	{"隐私政策链接", K_URL}, {"隐私政策地址", K_URL}, {"隐私政策", K_URL},
	{"隐私权政策", K_URL}, {"官网链接", K_URL}, {"官网", K_URL}, {"链接", K_URL},
	{"Privacy policy link", K_URL}, {"Privacy policy URL", K_URL},
	{"Privacy policy", K_URL}, {"Link", K_URL}, {"URL", K_URL}, {"Website", K_URL},
	{"第三方主体", K_COMPANY}, {"第三方公司名称", K_COMPANY}, {"第三方名称", K_COMPANY},
	{"公司名称", K_COMPANY}, {"所属公司", K_COMPANY}, {"SDK提供方", K_COMPANY},
	{"提供方", K_COMPANY}, {"开发者", K_COMPANY}, {"运营方", K_COMPANY},
	{"Company name", K_COMPANY}, {"Company", K_COMPANY}, {"Provider", K_COMPANY},
	{"Vendor", K_COMPANY}, {"Developer", K_COMPANY}, {"Third party", K_COMPANY},
	{"共享方式", K_OTHER}, {"处理方式", K_OTHER}, {"使用方式", K_OTHER},
	{"接入方式", K_OTHER}, {"Sharing method", K_OTHER}, {NULL, K_OTHER},
};

/* Sentences that name an SDK only to say it is not used. */
const char *const dw_not_used[] = {
	"不会接入", "不接入", "未接入", "没有接入", "并未接入", "不会集成", "不集成", "未集成",
	"没有集成", "并未集成", "不会使用", "不使用", "未使用", "没有使用", "并未使用", "不再使用",
	"停止使用", "不会嵌入", "不嵌入", "未嵌入", "不会引入", "未引入", "不包含", "已移除",
	"do not use", "does not use", "don't use", "doesn't use", "did not use", "never use*",
	"no longer use*", "not used", "do not integrate", "does not integrate", "don't integrate",
	"not integrated", "do not include", "does not include", "not included", "do not embed",
	"does not embed", "not embedded", "have removed", "has been removed", "removed",
	"do not work with", "neither", "nor", "but not", NULL,
};

/* Data not collected: "we will not collect your contacts". */
const char *const dw_not_collected[] = {
	"不会收集", "不收集", "未收集", "不会获取", "不获取", "不会采集", "不采集", "will not collect",
	"won't collect", "do not collect", "does not collect", "never collect*", NULL,
};

const char *const dw_storage[] = {
	"存储", "存放", "保存在", "储存", "stored", "store", "storage", "kept in", "hosted",
	"reside*", NULL,
};

const struct dword dw_regions[] = {
	{"中华人民共和国境内", "CN"}, {"中华人民共和国", "CN"}, {"中国境内", "CN"},
	{"中国大陆", "CN"}, {"中国", "CN"}, {"境内", "CN"}, {"mainland China", "CN"},
	{"Chinese mainland", "CN"}, {"People's Republic of China", "CN"},
	{"People’s Republic of China", "CN"}, {"the PRC", "CN"}, {"PRC", "CN"}, {"China", "CN"},
	{"美国", "US"}, {"United States", "US"}, {"USA", "US"}, {"U.S.", "US"},
	{"新加坡", "SG"}, {"Singapore", "SG"}, {"欧洲经济区", "EEA"},
	{"European Economic Area", "EEA"}, {"EEA", "EEA"}, {"欧盟", "EU"},
	{"European Union", "EU"}, {"EU", "EU"}, {"德国", "DE"}, {"Germany", "DE"},
	{"爱尔兰", "IE"}, {"Ireland", "IE"}, {"日本", "JP"}, {"Japan", "JP"}, {"香港", "HK"},
	{"Hong Kong", "HK"}, {"英国", "GB"}, {"United Kingdom", "GB"}, {"印度", "IN"},
	{"India", "IN"}, {"加拿大", "CA"}, {"Canada", "CA"}, {"澳大利亚", "AU"},
	{"Australia", "AU"}, {"韩国", "KR"}, {"South Korea", "KR"}, {"俄罗斯", "RU"},
	{"Russia", "RU"}, {"巴西", "BR"}, {"Brazil", "BR"}, {NULL, NULL},
};

/* Places a text names without saying which country they are. */
const char *const dw_vague_places[] = {
	"local nation", "local country", "the country where you", "the country in which you",
	"your country", "country of your residence", "where you reside", "where you live",
	"your location", "当地", "所在国", "所在地", "本地", "您所在的国家", "境外", "overseas",
	"abroad", NULL,
};

const char *const dw_abroad[] = {
	"跨境", "出境", "境外", "overseas", "cross-border", "cross border", "abroad",
	"outside of China", "outside China", "outside mainland China", "outside the PRC",
	"outside of the PRC", "outside the People's Republic of China", "outside your country",
	"other countries", "international transfer*", "transferred internationally", "跨国", NULL,
};

const char *const dw_consent[] = {
	"同意", "授权", "consent*", "authoriz*", "authoris*", "opt in", "opt-in", "opt out",
	"opt-out", NULL,
};

const char *const dw_refusal[] = {
	"不会", "不得", "不向", "不进行", "will not", "won't", "never", "do not", "does not",
	"shall not", "not be transferred", NULL,
};

const char *const dw_encryption[] = {
	"加密", "encrypt*", "HTTPS", "TLS", "SSL", NULL,
};

/* HTTPS, TLS and SSL are about transit by themselves. */
const char *const dw_transit[] = {
	"传输", "发送", "传送", "网络", "transmi*", "transfer*", "in transit", "network*",
	"Internet", NULL,
};

const char *const dw_collect[] = {
	"收集", "获取", "采集", "collect*", "gather*", "you provide", "provide us", NULL,
};

/* Sentences that speak of SDKs or of using one: a name in them is a mention. */
const char *const dw_sdk_context[] = {
	"SDK*", "第三方", "third*", "partner*", "provider*", "service*", "plugin*", "插件", "接入",
	"集成", "嵌入", "integrat*", "embed*", "librar*", "use", "uses", "used", "using", "使用",
	"采用", "通过", "合作", NULL,
};
