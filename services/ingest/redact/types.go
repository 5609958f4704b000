package redact

import "strings"

// Type names the kind of an entity. The values are the entity names Presidio
// uses where it has one, so findings read the same across tools.
type Type string

// Entity types the Redactor recognises.
const (
	TypeEmail  Type = "EMAIL_ADDRESS"
	TypePhone  Type = "PHONE_NUMBER"
	TypeCard   Type = "CREDIT_CARD"
	TypeIBAN   Type = "IBAN_CODE"
	TypeSSN    Type = "US_SSN"
	TypeIP     Type = "IP_ADDRESS"
	TypePerson Type = "PERSON"

	TypeITIN          Type = "US_ITIN"
	TypeUSPassport    Type = "US_PASSPORT"
	TypeDriverLicense Type = "US_DRIVER_LICENSE"
	TypeNHS           Type = "UK_NHS"
	TypeNINO          Type = "UK_NINO"
	TypeUKPassport    Type = "UK_PASSPORT"
	TypeAadhaar       Type = "IN_AADHAAR"
	TypePAN           Type = "IN_PAN"
	TypeNIF           Type = "ES_NIF"
	TypeFiscalCode    Type = "IT_FISCAL_CODE"
	TypeNRIC          Type = "SG_NRIC_FIN"
	TypeTFN           Type = "AU_TFN"
	TypeABN           Type = "AU_ABN"
	TypeMedicare      Type = "AU_MEDICARE"
	TypePESEL         Type = "PL_PESEL"

	TypeMAC      Type = "MAC_ADDRESS"
	TypeURL      Type = "URL"
	TypeCrypto   Type = "CRYPTO"
	TypeDate     Type = "DATE_TIME"
	TypeLocation Type = "LOCATION"

	TypeAPIKey     Type = "API_KEY"
	TypeJWT        Type = "JWT"
	TypePrivateKey Type = "PRIVATE_KEY"
	TypePassword   Type = "PASSWORD"
)

// AllTypes lists every entity type the Redactor can report.
var AllTypes = []Type{
	TypeEmail, TypePhone, TypeCard, TypeIBAN, TypeSSN, TypeIP, TypePerson,
	TypeITIN, TypeUSPassport, TypeDriverLicense, TypeNHS, TypeNINO, TypeUKPassport,
	TypeAadhaar, TypePAN, TypeNIF, TypeFiscalCode, TypeNRIC, TypeTFN, TypeABN,
	TypeMedicare, TypePESEL, TypeMAC, TypeURL, TypeCrypto, TypeDate, TypeLocation,
	TypeAPIKey, TypeJWT, TypePrivateKey, TypePassword,
}

// ParseType reads an entity type name such as "EMAIL_ADDRESS".
func ParseType(s string) (Type, bool) {
	t := Type(strings.ToUpper(strings.TrimSpace(s)))
	for _, known := range AllTypes {
		if t == known {
			return t, true
		}
	}
	return "", false
}

// knownPrefixes holds the placeholder prefix of every type.
var knownPrefixes = func() map[string]bool {
	m := make(map[string]bool, len(AllTypes))
	for _, t := range AllTypes {
		m[t.placeholderPrefix()] = true
	}
	return m
}()

// placeholderPrefixes holds the word used inside placeholders where it is
// not simply the type name, for example EMAIL for [EMAIL_1].
var placeholderPrefixes = map[Type]string{
	TypeEmail:    "EMAIL",
	TypePhone:    "PHONE",
	TypeCard:     "CARD",
	TypeIBAN:     "IBAN",
	TypeSSN:      "SSN",
	TypeIP:       "IP",
	TypeITIN:     "ITIN",
	TypeNHS:      "NHS",
	TypeNINO:     "NINO",
	TypeMAC:      "MAC",
	TypeDate:     "DATE",
	TypeLocation: "ADDRESS",
	TypeAPIKey:   "SECRET",
	TypeJWT:      "SECRET",
	TypePassword: "SECRET",
}

// placeholderPrefix returns the word used inside the placeholders of t.
func (t Type) placeholderPrefix() string {
	if p, ok := placeholderPrefixes[t]; ok {
		return p
	}
	return strings.ToUpper(string(t))
}
