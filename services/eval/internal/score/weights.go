package score

// Weights of the findings. They are tuned so that one serious finding (a
// leaked card number, a threat) passes a review threshold of 0.5 on its own,
// while a mild one (one swear word from the customer) does not.
const (
	weightEmail            = 0.6
	weightPhone            = 0.5
	weightCard             = 0.8
	weightIBAN             = 0.7
	weightPromise          = 0.5
	weightAdmission        = 0.6
	weightLegal            = 0.4
	weightThreat           = 0.6
	weightProfanityInput   = 0.2
	weightProfanityDraft   = 0.7
	weightInjectionInput   = 0.5
	weightInjectionPassage = 0.4
	weightUngrounded       = 0.3
	weightNoCitations      = 0.35
	weightUnknownCitation  = 0.3
	weightForeignHolder    = 0.6
)
