"""German topic lexicons and sentence frames for the synthetic web corpus.

Each topic has noun phrases (singular, nominative, with article), plural nouns, objects (feminine,
neuter or plural, so nominative = accusative), adjectives, places and a few complete sentences. Generic
frames combine them; health-adjacent "borderline" topics share vocabulary with the medical ones on
purpose, so that the medical / not-medical decision is not a keyword lookup.
"""
from __future__ import annotations

MEDICAL = ["anatomie", "kardiologie", "pharmakologie", "infektiologie", "neurologie",
           "gastroenterologie", "pneumologie", "nephrologie", "dermatologie", "endokrinologie",
           "haematologie"]
GENERAL = ["sport", "politik", "kochen", "reisen", "technik", "wirtschaft", "kultur", "wetter",
           "auto", "garten", "bildung"]
BORDERLINE = ["fitness", "wellness", "kosmetik", "tiermedizin", "ernaehrung", "krankenversicherung"]

TIMES = ["Heute", "Am Montag", "Seit Jahren", "In diesem Jahr", "Am Wochenende", "Im Frühjahr",
         "Derzeit", "Inzwischen", "Seit kurzem", "Im Herbst", "Zuletzt", "Immer wieder"]
V3 = ["bespricht", "erklärt", "untersucht", "beschreibt", "bewertet", "empfiehlt", "zeigt", "plant",
      "kritisiert", "vergleicht"]
V3P = ["besprechen", "erklären", "untersuchen", "beschreiben", "bewerten", "empfehlen", "zeigen",
       "planen", "kritisieren", "vergleichen"]

FRAMES = [
    "{np} {v3} {time_l} {obj}.",
    "{time} {v3} {np_l} {obj}.",
    "Viele {npl} finden {obj} {adj}.",
    "{place} {v3p} die {npl} {obj}.",
    "Nach Ansicht von Fachleuten ist {obj} besonders {adj}.",
    "Wer sich für {obj} interessiert, sollte {place_l} vorbeischauen.",
    "{np} sagte, {obj} sei {adj}.",
    "Laut einer Umfrage halten viele {npl} {obj} für {adj}.",
    "{time} gab es {place_l} viel Neues über {obj}.",
    "Für {npl} ist {obj} oft {adj}.",
    "{place} treffen sich regelmäßig {npl}, um {obj} zu besprechen.",
    "{np} {v3} gemeinsam mit anderen {npl} {obj}.",
]

# topic -> (np, npl, obj, adj, place, sentences)
LEX: dict[str, dict[str, list[str]]] = {}


def _t(name, np, npl, obj, adj, place, sent):
    LEX[name] = {"np": np, "npl": npl, "obj": obj, "adj": adj, "place": place, "sent": sent}


_MED_NP = ["die Ärztin", "der Facharzt", "die Oberärztin", "der Hausarzt", "die Pflegekraft",
           "die Klinikleitung", "der Chefarzt", "die Fachgesellschaft"]
_MED_NPL = ["Patienten", "Ärzte", "Pflegekräfte", "Studierende der Medizin", "Fachärzte", "Betroffene"]
_MED_OBJ = ["die Therapie", "die Diagnose", "das Blutbild", "die Behandlung", "die Untersuchung",
            "die Leitlinie", "die Dosierung", "die Vorsorge", "die Laborwerte", "die Anamnese"]
_MED_ADJ = ["wichtig", "entscheidend", "aufschlussreich", "umstritten", "notwendig", "hilfreich"]
_MED_PLACE = ["In der Klinik", "In der Praxis", "Auf der Station", "Im Krankenhaus", "In der Ambulanz"]

_MED_SPECIFIC = {
    "anatomie": (["der Anatom", "die Präparatorin"], ["Organe", "Knochen", "Muskeln", "Gefäße"],
                 ["das Skelett", "die Muskulatur", "das Bindegewebe", "die Gelenke", "die Organe"], [
        "Das Herz liegt im Mediastinum zwischen den beiden Lungenflügeln.",
        "Der menschliche Körper besteht aus über zweihundert Knochen.",
        "Die Leber ist das größte innere Organ des Menschen.",
        "Die Nieren liegen im Retroperitonealraum auf Höhe der unteren Rippen.",
        "Das Zwerchfell trennt den Brustraum vom Bauchraum.",
        "Im Anatomiekurs lernen Studierende die Lage der Organe am Präparat.",
    ]),
    "kardiologie": (["der Kardiologe", "die Kardiologin"], ["Herzpatienten", "Kardiologen"],
                    ["das EKG", "die Herzfrequenz", "die Herzklappen", "die Blutdruckwerte"], [
        "Ein erhöhter Blutdruck belastet das Herz auf Dauer erheblich.",
        "Das Elektrokardiogramm zeichnet die elektrische Aktivität des Herzens auf.",
        "Bei Verdacht auf einen Herzinfarkt zählt jede Minute.",
        "Die Herzkranzgefäße versorgen den Herzmuskel mit Sauerstoff.",
        "Vorhofflimmern erhöht das Risiko für einen Schlaganfall.",
    ]),
    "pharmakologie": (["die Apothekerin", "der Pharmakologe"], ["Apotheker", "Pharmakologen"],
                      ["die Wirkstoffe", "die Halbwertszeit", "die Wechselwirkungen", "die Tabletten"], [
        "Die Halbwertszeit bestimmt, wie oft ein Arzneimittel eingenommen werden muss.",
        "Wechselwirkungen zwischen Medikamenten müssen vor jeder Verordnung geprüft werden.",
        "Die Dosierung richtet sich nach Körpergewicht und Nierenfunktion.",
        "Viele Wirkstoffe werden in der Leber verstoffwechselt.",
        "Nebenwirkungen sollten dem Arzt oder Apotheker gemeldet werden.",
    ]),
    "infektiologie": (["die Infektiologin", "das Gesundheitsamt"], ["Infektiologen", "Erkrankte"],
                      ["die Impfung", "die Ansteckung", "die Erreger", "die Hygiene"], [
        "Gründliches Händewaschen senkt das Risiko einer Ansteckung deutlich.",
        "Antibiotika wirken nur gegen Bakterien, nicht gegen Viren.",
        "Die Inkubationszeit beschreibt die Zeit zwischen Ansteckung und ersten Symptomen.",
        "Impfungen schützen nicht nur den Einzelnen, sondern auch die Gemeinschaft.",
        "Bei Fieber über mehrere Tage sollte ein Arzt aufgesucht werden.",
    ]),
    "neurologie": (["der Neurologe", "die Neurologin"], ["Neurologen", "Schlaganfallpatienten"],
                   ["die Nervenleitung", "das MRT", "die Reflexe", "die Gedächtnisleistung"], [
        "Das Gehirn verbraucht etwa ein Fünftel der Energie des Körpers.",
        "Bei einem Schlaganfall werden Teile des Gehirns nicht mehr durchblutet.",
        "Die Nervenleitgeschwindigkeit gibt Auskunft über den Zustand der Nerven.",
        "Kopfschmerzen können viele Ursachen haben und sind meist harmlos.",
        "Das Rückenmark leitet Signale zwischen Gehirn und Körper weiter.",
    ]),
    "gastroenterologie": (["der Gastroenterologe", "die Endoskopie-Abteilung"], ["Gastroenterologen", "Darmpatienten"],
                          ["die Darmspiegelung", "die Leberwerte", "die Verdauung", "die Magenschleimhaut"], [
        "Die Darmspiegelung ist eine wichtige Untersuchung zur Krebsvorsorge.",
        "Die Leber entgiftet das Blut und bildet Galle.",
        "Eine Entzündung der Magenschleimhaut verursacht oft Schmerzen im Oberbauch.",
        "Erhöhte Leberwerte sollten weiter abgeklärt werden.",
        "Der Dünndarm nimmt den größten Teil der Nährstoffe auf.",
    ]),
    "pneumologie": (["der Lungenfacharzt", "die Pneumologin"], ["Pneumologen", "Asthmatiker"],
                    ["die Lungenfunktion", "die Atemwege", "das Röntgenbild", "die Sauerstoffsättigung"], [
        "Die Lungenfunktionsprüfung misst, wie viel Luft ein- und ausgeatmet wird.",
        "Rauchen ist die häufigste Ursache für chronische Lungenerkrankungen.",
        "Bei Asthma verengen sich die Atemwege anfallsartig.",
        "Die Sauerstoffsättigung im Blut lässt sich am Finger messen.",
        "In den Lungenbläschen findet der Gasaustausch statt.",
    ]),
    "nephrologie": (["der Nephrologe", "das Dialysezentrum"], ["Nephrologen", "Dialysepatienten"],
                    ["die Nierenfunktion", "die Dialyse", "die Harnwerte", "die Filtrationsrate"], [
        "Die Nieren filtern täglich etwa hundertachtzig Liter Primärharn.",
        "Bei fortgeschrittenem Nierenversagen ist eine Dialyse notwendig.",
        "Der Kreatininwert gibt Hinweise auf die Nierenfunktion.",
        "Bluthochdruck und Diabetes schädigen langfristig die Nieren.",
        "Eine ausreichende Trinkmenge entlastet die Nieren.",
    ]),
    "dermatologie": (["die Hautärztin", "der Dermatologe"], ["Dermatologen", "Hautpatienten"],
                     ["die Hautkrebsvorsorge", "die Hautbarriere", "die Salbe", "die Muttermale"], [
        "Die Haut ist mit fast zwei Quadratmetern das größte Organ des Menschen.",
        "Auffällige Muttermale sollten regelmäßig vom Hautarzt kontrolliert werden.",
        "Ekzeme gehen häufig mit starkem Juckreiz einher.",
        "UV-Strahlung ist der wichtigste Risikofaktor für Hautkrebs.",
        "Kortisonhaltige Salben lindern Entzündungen der Haut.",
    ]),
    "endokrinologie": (["die Endokrinologin", "der Diabetologe"], ["Endokrinologen", "Diabetiker"],
                       ["die Schilddrüsenwerte", "die Hormone", "das Insulin", "die Blutzuckerwerte"], [
        "Die Schilddrüse steuert mit ihren Hormonen den Stoffwechsel.",
        "Bei Diabetes mellitus ist die Regulation des Blutzuckers gestört.",
        "Der TSH-Wert ist der wichtigste Laborwert der Schilddrüsendiagnostik.",
        "Insulin wird in der Bauchspeicheldrüse gebildet.",
        "Eine Unterfunktion der Schilddrüse führt oft zu Müdigkeit und Gewichtszunahme.",
    ]),
    "haematologie": (["der Hämatologe", "die Blutbank"], ["Hämatologen", "Blutspender"],
                     ["die Blutgerinnung", "die Blutwerte", "die Transfusion", "das Knochenmark"], [
        "Rote Blutkörperchen transportieren Sauerstoff zu den Organen.",
        "Die Milz baut gealterte Blutkörperchen ab.",
        "Eine Blutarmut zeigt sich oft durch Blässe und Müdigkeit.",
        "Im Knochenmark werden die Blutzellen gebildet.",
        "Gerinnungshemmer verringern das Risiko von Thrombosen.",
    ]),
}
for _name, (_np, _npl, _obj, _sent) in _MED_SPECIFIC.items():
    _t(_name, _MED_NP + _np, _MED_NPL + _npl, _MED_OBJ + _obj, _MED_ADJ, _MED_PLACE, _sent)

_t("sport", ["der Trainer", "die Mannschaft", "der Stürmer", "die Torhüterin", "der Verein"],
   ["Spieler", "Fans", "Zuschauer", "Sportler", "Vereine"],
   ["das nächste Spiel", "die Tabelle", "die Saison", "das Training", "die Meisterschaft"],
   ["spannend", "enttäuschend", "entscheidend", "überraschend"], ["Im Stadion", "Auf dem Platz", "In der Halle"], [
    "Die Mannschaft gewann das Spiel nach einer starken zweiten Halbzeit.",
    "Der Verein verpflichtete im Sommer zwei neue Spieler.",
    "Die Fans feierten den Aufstieg bis spät in die Nacht.",
    "Im Elfmeterschießen hielt die Torhüterin zwei Schüsse.",
])
_t("politik", ["die Regierung", "der Minister", "die Opposition", "der Bundestag", "die Partei"],
   ["Abgeordnete", "Wähler", "Politiker", "Bürger"],
   ["die Reform", "das Gesetz", "die Wahl", "die Haushaltsdebatte", "die Koalition"],
   ["umstritten", "notwendig", "überfällig", "riskant"], ["Im Parlament", "In Berlin", "Im Landtag"], [
    "Der Bundestag hat das Gesetz nach langer Debatte verabschiedet.",
    "Die Opposition kritisierte den Haushaltsentwurf scharf.",
    "Bei der Landtagswahl lag die Wahlbeteiligung höher als erwartet.",
    "Die Koalition einigte sich auf einen Kompromiss.",
])
_t("kochen", ["der Koch", "die Köchin", "das Rezept", "die Großmutter"],
   ["Hobbyköche", "Gäste", "Feinschmecker", "Familien"],
   ["die Suppe", "das Gericht", "die Soße", "das Rezept", "die Kartoffeln", "das Gemüse"],
   ["lecker", "einfach", "würzig", "raffiniert"], ["In der Küche", "Im Restaurant", "Am Herd"], [
    "Die Zwiebeln in Butter glasig andünsten und mit Brühe ablöschen.",
    "Den Teig eine Stunde ruhen lassen und dann dünn ausrollen.",
    "Zum Schluss mit Salz, Pfeffer und frischen Kräutern abschmecken.",
    "Der Kuchen braucht etwa vierzig Minuten bei hundertachtzig Grad.",
])
_t("reisen", ["die Reiseleiterin", "der Urlauber", "die Airline", "das Hotel"],
   ["Touristen", "Reisende", "Urlauber", "Wanderer"],
   ["die Altstadt", "die Küste", "das Museum", "die Unterkunft", "die Reise"],
   ["malerisch", "günstig", "beliebt", "überlaufen"], ["Am Bahnhof", "Im Hotel", "An der Küste", "In den Alpen"], [
    "Die Altstadt lässt sich am besten zu Fuß erkunden.",
    "Im Sommer ist die Insel oft ausgebucht.",
    "Der Zug fährt stündlich in die Hauptstadt.",
    "Von der Hütte aus hat man einen herrlichen Blick auf die Berge.",
])
_t("technik", ["das Smartphone", "der Hersteller", "die Software", "der Entwickler"],
   ["Nutzer", "Entwickler", "Kunden", "Programmierer"],
   ["die neue Version", "das Update", "die Kamera", "die Akkulaufzeit", "die App"],
   ["schnell", "fehlerhaft", "innovativ", "teuer"], ["Auf der Messe", "Im Labor", "Im Netz"], [
    "Das Update schließt mehrere Sicherheitslücken.",
    "Der neue Prozessor arbeitet deutlich sparsamer als sein Vorgänger.",
    "Die App ist ab sofort für alle gängigen Betriebssysteme verfügbar.",
    "Der Akku lässt sich in einer halben Stunde fast vollständig laden.",
])
_t("wirtschaft", ["die Bank", "das Unternehmen", "der Vorstand", "die Börse"],
   ["Anleger", "Unternehmen", "Verbraucher", "Ökonomen"],
   ["die Inflation", "die Zinsen", "die Bilanz", "die Konjunktur", "die Aktie"],
   ["stabil", "schwach", "robust", "besorgniserregend"], ["An der Börse", "In Frankfurt", "Im Handel"], [
    "Der Leitzins bleibt vorerst unverändert.",
    "Das Unternehmen meldete einen Rekordumsatz im dritten Quartal.",
    "Die Inflation ist im vergangenen Monat leicht gesunken.",
    "Viele Betriebe suchen dringend Fachkräfte.",
])
_t("kultur", ["das Theater", "die Regisseurin", "der Autor", "das Orchester"],
   ["Besucher", "Künstler", "Leser", "Musiker"],
   ["die Ausstellung", "das Konzert", "die Premiere", "das neue Buch", "die Inszenierung"],
   ["gelungen", "mutig", "bewegend", "langatmig"], ["Im Museum", "Im Theater", "In der Oper"], [
    "Die Ausstellung ist noch bis Ende des Monats zu sehen.",
    "Das Publikum applaudierte minutenlang nach der Premiere.",
    "Der Roman erzählt die Geschichte einer Familie über drei Generationen.",
    "Das Orchester spielte Werke von Beethoven und Brahms.",
])
_t("wetter", ["der Wetterdienst", "die Meteorologin", "das Tief", "das Hoch"],
   ["Meteorologen", "Autofahrer", "Landwirte", "Spaziergänger"],
   ["die Vorhersage", "das Gewitter", "die Temperaturen", "die Unwetterwarnung"],
   ["mild", "frostig", "wechselhaft", "sonnig"], ["Im Norden", "Im Süden", "An den Küsten", "In den Bergen"], [
    "Am Nachmittag ziehen von Westen her kräftige Schauer auf.",
    "Die Temperaturen steigen am Wochenende auf bis zu dreißig Grad.",
    "In höheren Lagen kann es nachts Frost geben.",
    "Der Wetterdienst warnt vor Sturmböen an der Nordsee.",
])
_t("auto", ["der Hersteller", "die Werkstatt", "das Elektroauto", "der Fahrer"],
   ["Autofahrer", "Pendler", "Käufer", "Mechaniker"],
   ["die Reichweite", "das Modell", "die Bremsen", "die Ladestation", "die Inspektion"],
   ["sparsam", "zuverlässig", "teuer", "komfortabel"], ["In der Werkstatt", "Auf der Autobahn", "Im Autohaus"], [
    "Die Reichweite des Elektroautos liegt bei rund vierhundert Kilometern.",
    "Vor dem Winter sollten die Reifen gewechselt werden.",
    "Der Kombi bietet viel Platz für Gepäck.",
    "Auf der Autobahn staute sich der Verkehr über zehn Kilometer.",
])
_t("garten", ["der Gärtner", "die Hobbygärtnerin", "das Beet", "der Rasen"],
   ["Gärtner", "Pflanzen", "Rosen", "Tomaten"],
   ["die Aussaat", "die Erde", "das Unkraut", "die Ernte", "die Hecke"],
   ["pflegeleicht", "prächtig", "robust", "empfindlich"], ["Im Garten", "Auf dem Balkon", "Im Gewächshaus"], [
    "Tomaten brauchen einen sonnigen und windgeschützten Standort.",
    "Im Herbst ist die beste Zeit, um Blumenzwiebeln zu setzen.",
    "Der Rasen sollte im Sommer morgens gewässert werden.",
    "Kompost verbessert die Struktur des Bodens.",
])
_t("bildung", ["die Lehrerin", "die Schule", "der Schulleiter", "die Universität"],
   ["Schüler", "Lehrer", "Eltern", "Studierende"],
   ["die Prüfung", "das Abitur", "die Hausaufgaben", "das Studium", "die Digitalisierung"],
   ["anspruchsvoll", "wichtig", "umstritten", "praxisnah"], ["In der Schule", "An der Universität", "Im Klassenzimmer"], [
    "Die Abiturprüfungen beginnen in diesem Jahr eine Woche früher.",
    "Viele Schulen wünschen sich eine bessere digitale Ausstattung.",
    "Das Studium dauert in der Regel sechs Semester.",
    "Die Eltern wurden zu einem Elternabend eingeladen.",
])
# Borderline: health-adjacent, not medicine. They borrow medical words on purpose.
_t("fitness", ["die Trainerin", "das Fitnessstudio", "der Personal Trainer", "die Laufgruppe"],
   ["Sportler", "Läufer", "Anfänger", "Mitglieder"],
   ["die Ausdauer", "das Krafttraining", "die Muskeln", "die Regeneration", "die Herzfrequenz"],
   ["effektiv", "anstrengend", "gesund", "motivierend"], ["Im Fitnessstudio", "Im Park", "Auf der Laufbahn"], [
    "Regelmäßiges Krafttraining stärkt Muskeln und Knochen.",
    "Nach dem Lauf sollte man die Muskeln dehnen.",
    "Ein Pulsmesser hilft, im richtigen Bereich zu trainieren.",
    "Muskelkater vergeht meist nach zwei bis drei Tagen.",
])
_t("wellness", ["das Spa", "die Masseurin", "das Wellnesshotel", "der Saunameister"],
   ["Gäste", "Erholungssuchende", "Urlauber", "Stammgäste"],
   ["die Massage", "die Sauna", "die Entspannung", "das Wohlbefinden", "die Aromatherapie"],
   ["wohltuend", "entspannend", "erholsam", "beruhigend"], ["Im Spa", "In der Therme", "Im Ruheraum"], [
    "Ein Saunagang sollte nicht länger als fünfzehn Minuten dauern.",
    "Ätherische Öle sorgen für eine entspannte Atmosphäre.",
    "Viele Gäste schwören auf die wohltuende Wirkung warmer Steine.",
    "Nach der Massage fühlt man sich wie neu geboren.",
])
_t("kosmetik", ["die Kosmetikerin", "die Marke", "das Serum", "die Creme"],
   ["Kundinnen", "Kunden", "Beauty-Fans", "Kosmetikerinnen"],
   ["die Haut", "die Pflegeroutine", "die Inhaltsstoffe", "das Make-up", "die Feuchtigkeit"],
   ["pflegend", "sanft", "angesagt", "hautfreundlich"], ["Im Kosmetikstudio", "In der Drogerie", "Im Badezimmer"], [
    "Eine Creme mit Lichtschutzfaktor schützt die Haut vor vorzeitiger Alterung.",
    "Hyaluronsäure spendet der Haut Feuchtigkeit.",
    "Das Serum zieht schnell ein und hinterlässt keinen Film.",
    "Für empfindliche Haut eignen sich parfümfreie Produkte.",
])
_t("tiermedizin", ["der Tierarzt", "die Tierärztin", "die Tierklinik", "der Hund"],
   ["Hunde", "Katzen", "Tierhalter", "Pferde"],
   ["die Impfung", "die Entwurmung", "die Behandlung", "die Untersuchung", "das Futter"],
   ["wichtig", "notwendig", "artgerecht", "teuer"], ["In der Tierarztpraxis", "Im Stall", "In der Tierklinik"], [
    "Hunde sollten jährlich gegen Tollwut geimpft werden.",
    "Katzen zeigen Schmerzen oft erst sehr spät.",
    "Die Tierärztin untersuchte das Pferd auf eine Entzündung am Huf.",
    "Zecken können auch bei Hunden Krankheiten übertragen.",
])
_t("ernaehrung", ["die Ernährungsberaterin", "das Kochbuch", "der Ernährungsexperte", "die Diät"],
   ["Verbraucher", "Vegetarier", "Familien", "Sportler"],
   ["die Ballaststoffe", "die Vitamine", "das Frühstück", "die Mahlzeiten", "die Eiweißzufuhr"],
   ["ausgewogen", "gesund", "kalorienarm", "vollwertig"], ["Im Supermarkt", "In der Kantine", "Am Frühstückstisch"], [
    "Vollkornprodukte enthalten viele Ballaststoffe.",
    "Fünf Portionen Obst und Gemüse am Tag gelten als gesund.",
    "Wer abnehmen möchte, sollte auf zuckerhaltige Getränke verzichten.",
    "Nüsse liefern wertvolle Fette und Eiweiß.",
])
_t("krankenversicherung", ["die Krankenkasse", "der Versicherte", "die Beitragsordnung", "der Tarif"],
   ["Versicherte", "Beitragszahler", "Arbeitgeber", "Rentner"],
   ["die Beiträge", "die Zusatzversicherung", "die Erstattung", "die Kostenübernahme", "die Police"],
   ["günstig", "teuer", "fair", "kompliziert"], ["Bei der Krankenkasse", "Im Kundencenter", "Im Antragsformular"], [
    "Die Krankenkasse erhöht den Zusatzbeitrag zum Jahreswechsel.",
    "Eine Zahnzusatzversicherung lohnt sich nicht für jeden.",
    "Die Kostenübernahme muss vor der Behandlung beantragt werden.",
    "Versicherte können innerhalb von zwei Monaten die Kasse wechseln.",
])

# Web-page furniture that surrounds real documents (menus, cookie notes, sign-offs).
BOILER = ["Weitere Informationen finden Sie auf unserer Website.",
          "Alle Angaben ohne Gewähr.", "Kommentare sind für diesen Beitrag geschlossen.",
          "Teilen Sie diesen Artikel mit Ihren Freunden.", "Zuletzt aktualisiert vor wenigen Tagen."]

# English sentences mixed into a controlled share of documents (language-mixing ground truth).
ENGLISH = [
    "Click here to read the full article.", "This content is not available in your region.",
    "Please accept our cookie policy to continue.", "The results were published last week.",
    "For more information, please contact our support team.", "All rights reserved.",
    "This study was funded by an independent research grant.", "Sign up for our weekly newsletter.",
    "The team is looking forward to the next season.", "Further research is needed to confirm these findings.",
    "Our customers love the new design.", "Prices may vary depending on the location.",
    "The patient was discharged after three days.", "Follow us on social media for daily updates.",
    "The conference will take place in London next spring.", "We apologize for any inconvenience.",
]

DOMAINS = {
    "medical": ["gesundheit-ratgeber.de", "medizin-wissen.de", "praxis-journal.de", "klinikportal.de"],
    "general": ["nachrichten-heute.de", "stadtanzeiger.de", "magazin-online.de", "blog.example.de"],
    "borderline": ["wohlfuehl-magazin.de", "fit-und-aktiv.de", "tierfreunde.de", "verbraucherportal.de"],
}
