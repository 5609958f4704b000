package embedder

// The word lists of the tokenizer. They describe customer-support English
// for an online shop: how customers ask and how help-centre articles
// answer. Keep them general; a list entry that only one question needs
// does not belong here.

// stopwords carry no topic and are dropped before hashing: function words
// and the filler of informal messages ("hi", "just", "guys"). Negations
// stay, folded into "not": "not refundable" and "refundable" should differ.
const stopwords = `a about above after again all also am an and any anybody anyone anything
anyway anymore are as at be because been before being below between both but by
can could did do does doing down during each either else ever every few for from
further get gets getting got gotten guy guys had has have having he hello her here
hers hey hi him his how however i if im in into is it its itself ive just let lets
like me mine more most much my myself of off oh ok okay on once only or other our
ours out over own please pls plz really same she should so some someone something
such than thank thanks thanx that the their theirs them then there these they thing
things this those though through thx to too under until up very want wanted wants
was we were what whatever when where which while who whom why will with would yeah
yes yet you your yours yourself ll ve re`

// synonymGroups fold paraphrases into one canonical token, the first word
// of each group. Members are matched after stemming, so one inflection of
// a word stands for all of them. Spelling variants (British and American,
// run-together compounds) are groups too.
var synonymGroups = [][]string{
	// Money and payment.
	{"refund", "refunds", "reimburse", "reimbursement", "repay", "repayment", "chargeback"},
	{"instalment", "installment", "installments", "instalments", "klarna", "afterpay", "layaway"},
	{"fee", "surcharge", "charge"},
	{"authorise", "authorize", "authorisation", "authorization", "preauthorization", "preauthorisation"},
	{"invoice", "receipt", "invoiced"},
	{"coupon", "promo", "promocode"},
	{"expire", "expired", "expiry", "expiration", "expiring"},
	{"gift", "voucher", "vouchers", "giftcard", "giftcards", "egift", "present"},

	// Orders and delivery.
	{"ship", "shipping", "shipment", "shipped", "deliver", "delivery", "dispatch", "dispatched", "postage"},
	{"express", "expedite", "expedited", "overnight", "rush", "priority"},
	{"delay", "delayed", "late", "overdue", "slow"},
	{"track", "tracking", "trace"},
	{"address", "apartment", "residence"},
	{"redirect", "reroute", "rerouting", "redirection"},
	{"backorder", "backordered", "preorder", "restock", "restocked"},
	{"duty", "duties", "customs", "tariff", "tariffs"},
	{"wrong", "incorrect", "mistaken"},
	{"missing", "lost", "vanished"},
	{"damaged", "damage", "broken", "broke", "defective", "defect", "faulty", "malfunction"},
	{"cancel", "cancelled", "canceled", "cancellation", "terminate", "termination", "unsubscribe"},

	// Accounts and security.
	{"account", "profile"},
	{"close", "closing", "delete", "deletion", "deactivate", "erase"},
	{"password", "passcode", "login", "logon", "signin", "credential"},
	{"verification", "2fa", "mfa", "authenticator", "otp"},
	{"data", "info", "information"},
	{"fake", "scam", "phishing", "spoof", "spoofed", "legit", "legitimate", "genuine", "suspicious"},
	{"escalate", "escalation", "supervisor", "manager", "complaint", "complain"},
	{"phone", "telephone", "call"},
	{"problem", "issue", "trouble"},
	{"resolve", "resolved", "solve", "fix"},

	// Products and their care.
	{"warranty", "guarantee", "guaranty"},
	{"knife", "knives"},
	{"dull", "blunt"},
	{"warp", "warped", "warping", "bent", "bend", "buckled"},
	{"loose", "loosen", "loosened"},
	{"rust", "rusty", "rusted", "corrosion", "corroded"},
	{"colour", "color", "colours", "colors"},

	// Negations stay as one token.
	{"not", "no", "never", "don", "dont", "didn", "didnt", "doesn", "doesnt", "isn", "isnt",
		"wasn", "wasnt", "won", "wont", "cant", "cannot", "haven", "havent"},
}

// synonymPhrases fold phrases of two to four words into a canonical token.
// Their words are matched after stemming, once before stopwords are dropped
// (so "signing in" folds although "in" is a stopword) and once after (so
// "send it back" folds like "send back").
var synonymPhrases = map[string]string{
	"money back":        "refund",
	"discount code":     "coupon",
	"promo code":        "coupon",
	"promotional code":  "coupon",
	"pay back":          "refund",
	"paid back":         "refund",
	"sign in":           "password",
	"sign on":           "password",
	"log in":            "password",
	"log on":            "password",
	"send back":         "return",
	"bring back":        "return",
	"buy now pay later": "instalment",
	"pay later":         "instalment",
	"payment plan":      "instalment",
	"gift card":         "gift",
	"next day":          "express",
	"2 day":             "express",
	"two day":           "express",
	"same day":          "express",
	"two step":          "verification",
	"two factor":        "verification",
	"customer service":  "escalate",
	"team lead":         "escalate",
	"speak to someone":  "phone",
	"personal details":  "data",
}

// irregularForms maps irregular verb forms to the base form, so that
// "bought" meets "buy" and "sent" meets "send".
var irregularForms = map[string]string{
	"bought": "buy", "brought": "bring", "came": "come", "chose": "choose", "chosen": "choose",
	"found": "find", "gave": "give", "given": "give", "gone": "go", "held": "hold",
	"kept": "keep", "made": "make", "paid": "pay", "sent": "send", "sold": "sell",
	"taken": "take", "took": "take", "told": "tell", "went": "go", "wrote": "write",
	"written": "write", "thought": "think",
}

// genericTerms are words that nearly every support article uses; they say
// little about which article answers a question, so their features weigh
// genericWeight instead of 1. They are matched after stemming and synonym
// folding.
var genericTerms = []string{
	"order", "item", "larkspur", "email", "contact", "day", "business", "number", "use",
	"need", "time", "see", "make", "go", "come", "take", "keep", "find", "look", "know",
	"help", "ask", "tell", "new", "first", "within", "may", "one", "two", "also", "usually",
	"send", "receive", "choose", "open", "select", "sign", "page", "link", "check",
}

// genericWeight is the weight of a generic term's features.
const genericWeight = 0.35
