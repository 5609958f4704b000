package redact

import "testing"

func TestFindAddresses(t *testing.T) {
	t.Parallel()
	runContextCases(t, []contextCase{
		{name: "US with city state ZIP",
			text: "Please ship to 742 Evergreen Terrace, Springfield, IL 62704 today.",
			want: []string{"LOCATION 742 Evergreen Terrace, Springfield, IL 62704"}},
		{name: "US suite and ZIP+4",
			text: "Our office: 1 Market Street, Suite 400, San Francisco, CA 94105-1234.",
			want: []string{"LOCATION 1 Market Street, Suite 400, San Francisco, CA 94105-1234"}},
		{name: "US abbreviations and direction",
			text: "Mail it to 1600 Pennsylvania Ave. NW, Washington, DC 20500",
			want: []string{"LOCATION 1600 Pennsylvania Ave. NW, Washington, DC 20500"}},
		{name: "US apartment without commas",
			text: "I live at 350 5th Avenue Apt 4B New York NY 10118 now",
			want: []string{"LOCATION 350 5th Avenue Apt 4B New York NY 10118"}},
		{name: "street alone",
			text: "I moved to 88 Harbour View Drive last week.",
			want: []string{"LOCATION 88 Harbour View Drive"}},
		{name: "street in lower case needs context",
			text: "my address is 12 main street",
			want: []string{"LOCATION 12 main street"}},
		{name: "UK with flat and postcode",
			text: "Deliver to Flat 3, 45 Queen's Road, Bristol BS8 1QU please.",
			want: []string{"LOCATION Flat 3, 45 Queen's Road, Bristol BS8 1QU"}},
		{name: "UK multi-line",
			text: "Ship to:\nOliver Bennett\n221B Baker Street\nLondon NW1 6XE\nUnited Kingdom\n\nThanks",
			want: []string{"PERSON Oliver Bennett", "LOCATION 221B Baker Street\nLondon NW1 6XE\nUnited Kingdom"}},
		{name: "UK postcode alone after postcode",
			text: "my postcode is SW1A 1AA thanks",
			want: []string{"LOCATION SW1A 1AA"}},
		{name: "UK city and postcode",
			text: "We are based in Manchester M1 1AE.",
			want: []string{"LOCATION Manchester M1 1AE"}},
		{name: "Canada",
			text: "Shipping: 55 Yonge Street, Toronto, ON M5E 1J4",
			want: []string{"LOCATION 55 Yonge Street, Toronto, ON M5E 1J4"}},
		{name: "Australia unit",
			text: "Business address 4/22 Industrial Drive, Braeside VIC 3195.",
			want: []string{"LOCATION 4/22 Industrial Drive, Braeside VIC 3195"}},
		{name: "Germany",
			text: "Bitte an Hauptstraße 5, 10115 Berlin senden.",
			want: []string{"LOCATION Hauptstraße 5, 10115 Berlin"}},
		{name: "Germany two words",
			text: "Adresse: Berliner Str. 12a, 80331 München",
			want: []string{"LOCATION Berliner Str. 12a, 80331 München"}},
		{name: "France",
			text: "Livrer au 12 rue de la Paix, 75002 Paris, merci.",
			want: []string{"LOCATION 12 rue de la Paix, 75002 Paris"}},
		{name: "Spain with floor",
			text: "Dirección: Calle de Alcalá 214, 3º B, 28028 Madrid.",
			want: []string{"LOCATION Calle de Alcalá 214, 3º B, 28028 Madrid"}},
		{name: "Portugal",
			text: "Morada: Avenida da Liberdade 110, 1269-046 Lisboa, Portugal",
			want: []string{"LOCATION Avenida da Liberdade 110, 1269-046 Lisboa, Portugal"}},
		{name: "Italy",
			text: "Sede: Via Giuseppe Garibaldi 8, 10122 Torino",
			want: []string{"LOCATION Via Giuseppe Garibaldi 8, 10122 Torino"}},
		{name: "Netherlands",
			text: "Bezorgen op Keizersgracht 123, 1015 CJ Amsterdam.",
			want: []string{"LOCATION Keizersgracht 123, 1015 CJ Amsterdam"}},
		{name: "Poland",
			text: "Adres: ul. Długa 17/4, 31-147 Kraków",
			want: []string{"LOCATION ul. Długa 17/4, 31-147 Kraków"}},
		{name: "Ireland",
			text: "Address on file: 22 Ranelagh Road, Dublin 6, D06 K2P4.",
			want: []string{"LOCATION 22 Ranelagh Road, Dublin 6, D06 K2P4"}},
		{name: "Singapore",
			text: "Address: Blk 123 Bedok North Street 2, #08-45, Singapore 460123",
			want: []string{"LOCATION Blk 123 Bedok North Street 2, #08-45, Singapore 460123"}},
		{name: "PO box",
			text: "Billing: PO Box 1234, Austin, TX 78701",
			want: []string{"LOCATION PO Box 1234, Austin, TX 78701"}},
		{name: "PO box with dots",
			text: "Write to P.O. Box 77 for refunds.",
			want: []string{"LOCATION P.O. Box 77"}},
		{name: "Postfach",
			text: "Anschrift: Postfach 10 20 30",
			want: []string{"LOCATION Postfach 10 20 30"}},
		{name: "city state ZIP alone",
			text: "We moved to Springfield, IL 62704 last year.",
			want: []string{"LOCATION Springfield, IL 62704"}},
		{name: "ZIP alone after zip",
			text: "my zip code is 94107",
			want: []string{"LOCATION 94107"}},
		{name: "code fixture with address key", profile: ProfileCode,
			text: `+  {"address": "350 5th Avenue, New York, NY 10118"}`,
			want: []string{"LOCATION 350 5th Avenue, New York, NY 10118"}},
	})
}

func TestAddressLineParts(t *testing.T) {
	t.Parallel()
	runContextCases(t, []contextCase{
		{name: "parts after the street", text: "Meu endereço: Rua Augusta, 1508, apto 72, Consolação, São Paulo - SP, 01304-001",
			want: []string{"LOCATION Rua Augusta, 1508, apto 72, Consolação, São Paulo - SP, 01304-001"}},
		{name: "whole line before the postcode", text: "Ship to: Rose Cottage, Church Lane, Great Milton, Oxford OX44 7PB",
			want: []string{"LOCATION Rose Cottage, Church Lane, Great Milton, Oxford OX44 7PB"}},
		{name: "words after the street in its part", text: "Address: ul. Marszałkowska 84/92 m. 17, 00-514 Warszawa",
			want: []string{"LOCATION ul. Marszałkowska 84/92 m. 17, 00-514 Warszawa"}},
		{name: "street after prose in its part", text: "Stroke suspected. Address Hasenheide 61, 10967 Berlin",
			want: []string{"LOCATION Hasenheide 61, 10967 Berlin"}},
		{name: "name before the address", text: "Ship to: Jane Doe, 12 High Street, Oxford OX1 2AB",
			want: []string{"PERSON Jane Doe", "LOCATION 12 High Street, Oxford OX1 2AB"}},
		{name: "prose after the address", text: "I live at 12 High Street, Oxford OX1 2AB, near the station and I need help",
			want: []string{"LOCATION 12 High Street, Oxford OX1 2AB"}},
		{name: "phone before the address", text: "Contact: (505) 555-0134, 318 Calle Ocho SW, Albuquerque, NM 87105",
			want: []string{"LOCATION 318 Calle Ocho SW, Albuquerque, NM 87105"}},
		{name: "phone before the street", text: "Kenya branch: Achieng, +254 733 502 918, Mombasa Road, Nairobi, P.O. Box 48210",
			want: []string{"PERSON Achieng", "LOCATION Mombasa Road, Nairobi, P.O. Box 48210"}},
		{name: "id after the address", text: "Client at 14 Rosemary Lane, Whitby YO21 3DT, NHS no. 956-562-7854",
			want: []string{"LOCATION 14 Rosemary Lane, Whitby YO21 3DT"}},
	})
}

func TestFindAddressesNegatives(t *testing.T) {
	t.Parallel()
	runContextCases(t, []contextCase{
		{name: "street names without number", text: "We met on Baker Street near Oxford Street."},
		{name: "numbers before Title Case", text: "Step 3 Drive growth. Version 2 Park. Chapter 11 Court. Top 10 Way."},
		{name: "street-type word inside a word", text: "The 24 Hour Drive-thru opens at 6."},
		{name: "weak street type alone", text: "We planted 12 Oak Hill trees."},
		{name: "dates and amounts", text: "On 14 March 2024 we paid 20000 EUR for 3 Licences."},
		{name: "number and word", text: "The 20000 Leagues exhibit and 75002 Visitors."},
		{name: "lone city", text: "I'm travelling to Paris and Berlin next week."},
		{name: "lone postcode without context", text: "Ticket SW1A 1AA was closed."},
		{name: "units alone", text: "Meet in Room 4B, Suite 200 or Flat 3."},
		{name: "blood pressure", text: "BP 120/80, pulse 72."},
		{name: "street alone in code", profile: ProfileCode, text: `+	greeting := "10 Downing Street"`},
		{name: "versions and ids", text: "Upgrade to 2.4 Main Branch; ORD-118822 ships from 5 Gate."},
	})
}

func FuzzFindAddresses(f *testing.F) {
	for _, s := range []string{
		"742 Evergreen Terrace, Springfield, IL 62704",
		"Flat 3, 45 Queen's Road\nBristol BS8 1QU\nUnited Kingdom",
		"Calle de Alcalá 214, 3º B, 28028 Madrid",
		"PO Box 1234 #",
		"12/48 Beach Road, Bondi NSW 2026\xff",
		"ul. Długa 17/4, 31-147 Kraków",
		"Blk 1 X Street 2, #08-, Singapore 4601230",
		"CAlle AAAAAAAá 0\xba",
	} {
		f.Add(s, uint8(0))
	}
	r := New()
	f.Fuzz(func(t *testing.T, text string, profile uint8) {
		s := newScan(text, Profile(profile%3))
		for _, c := range r.findAddresses(s, nil) {
			checkCandidate(t, text, c, TypeLocation)
		}
	})
}
