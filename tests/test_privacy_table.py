"""Personal data out of published text: a table of what local authorities and reviewers
write, and what the portal publishes of it (`workflows.text.privacy.scrub`).

Every row runs with the same people: the asker Agnès Durand <agnes.durand@ville-exemple.fr>,
the reviewer Marie Garnier <marie.garnier@interieur.gouv.fr>, and the administration's
contacts that stay published (`[privacy] keep_contacts`).
"""

from __future__ import annotations

import pytest

from workflows.text.privacy import Identity, scrub

ASKER = ("Agnès Durand", "agnes.durand@ville-exemple.fr")
REVIEWER = Identity("Marie Garnier", "marie.garnier@interieur.gouv.fr")
KEEP = ("decentralisation-stationnement@interieur.gouv.fr", "01 40 07 60 60")

CASES: list[tuple[str, str]] = [
    # IBAN
    (
        "Le remboursement est à faire sur FR76 3000 6000 0112 3456 7890 189 svp.",
        "Le remboursement est à faire sur [IBAN] svp.",
    ),
    ("IBAN : FR7630006000011234567890189", "IBAN : [IBAN]"),
    ("IBAN FR76 3000 6000 0112 3456 7890 189 BIC AGRIFRPP882", "IBAN [IBAN] BIC AGRIFRPP882"),
    (
        "Compte allemand DE89 3704 0044 0532 0130 00 du prestataire.",
        "Compte allemand [IBAN] du prestataire.",
    ),
    ("Virement depuis BE68539007547034 reçu.", "Virement depuis [IBAN] reçu."),
    ("Coordonnées : IT60 X054 2811 1010 0000 0123 456.", "Coordonnées : [IBAN]."),
    ("Compte ES91 2100 0418 4502 0005 1332 de la société.", "Compte [IBAN] de la société."),
    ("IBAN : GB29 NWBK 6016 1331 9268 19", "IBAN : [IBAN]"),
    ("Le RIB de la régie : FR14 2004 1010 0505 0001 3M02 606.", "Le RIB de la régie : [IBAN]."),
    ("IBAN CH93 0076 2011 6238 5295 7 (Suisse)", "IBAN [IBAN] (Suisse)"),
    # cards
    (
        "J'ai payé avec la carte 4970 1012 3456 7899 et été débité deux fois.",
        "J'ai payé avec la carte [numéro de carte bancaire] et été débité deux fois.",
    ),
    (
        "Carte n° 5555555555554444, débit du 12/03.",
        "Carte n° [numéro de carte bancaire], débit du 12/03.",
    ),
    (
        "Paiement par carte 4111-1111-1111-1111 refusé à l'horodateur.",
        "Paiement par carte [numéro de carte bancaire] refusé à l'horodateur.",
    ),
    (
        "Carte American Express 3782 822463 10005.",
        "Carte American Express [numéro de carte bancaire].",
    ),
    # NIR
    (
        "Mon numéro de sécurité sociale est le 1 85 05 78 006 084 36.",
        "Mon numéro de sécurité sociale est le [numéro de sécurité sociale].",
    ),
    ("NIR : 185057800608436", "NIR : [numéro de sécurité sociale]"),
    ("Dossier 185057800608491 reçu.", "Dossier [numéro de sécurité sociale] reçu."),
    (
        "L'agent (n° SS 2 90 12 2A 123 456 12) est assermenté.",
        "L'agent (n° SS [numéro de sécurité sociale]) est assermenté.",
    ),
    (
        "Numéro INSEE de l'agent : 2 69 05 49 588 157",
        "Numéro INSEE de l'agent : [numéro de sécurité sociale]",
    ),
    # phones
    ("Vous pouvez me joindre au 06 12 34 56 78.", "Vous pouvez me joindre au [téléphone]."),
    ("Appelez le 01.23.45.67.89 en matinée.", "Appelez le [téléphone] en matinée."),
    ("Tél : 05-61-22-33-44", ""),
    ("Rappelez-moi au 0612345678 s'il vous plaît.", "Rappelez-moi au [téléphone] s'il vous plaît."),
    (
        "Mon portable : +33 6 12 34 56 78, disponible l'après-midi.",
        "Mon portable : [téléphone], disponible l'après-midi.",
    ),
    ("Joignable au +33 (0)1 45 67 89 10.", "Joignable au [téléphone]."),
    ("Contact au 0033 4 91 23 45 67 pour la régie.", "Contact au [téléphone] pour la régie."),
    (
        "Mairie de Saint-Denis (La Réunion) : +262 262 40 12 34.",
        "Mairie de Saint-Denis (La Réunion) : [téléphone].",
    ),
    ("Service en Guadeloupe, tél. 0590 81 23 45.", "Service en Guadeloupe, tél. [téléphone]."),
    ("Depuis Cayenne : +594 594 29 12 34.", "Depuis Cayenne : [téléphone]."),
    (
        "Fort-de-France, ligne du régisseur +596 696 12 34 56.",
        "Fort-de-France, ligne du régisseur [téléphone].",
    ),
    ("Mayotte : +269 639 12 34 56.", "Mayotte : [téléphone]."),
    ("Nouméa : +687 28 12 34.", "Nouméa : [téléphone]."),
    ("Papeete : +689 40 12 34 56.", "Papeete : [téléphone]."),
    ("Notre prestataire belge : +32 2 123 45 67.", "Notre prestataire belge : [téléphone]."),
    ("Le support suisse répond au +41 22 345 67 89.", "Le support suisse répond au [téléphone]."),
    ("Éditeur allemand : +49 30 1234567.", "Éditeur allemand : [téléphone]."),
    ("Numéro vert de l'éditeur : 0 800 123 456.", "Numéro vert de l'éditeur : [téléphone]."),
    ("Mon collègue, tél. 4512, répondra.", "Mon collègue, tél. [téléphone], répondra."),
    ("Joignable au poste 4512 le matin.", "Joignable au poste [téléphone] le matin."),
    (
        "Mme Garnier est en congé, rappelez au 06 98 76 54 32.",
        "Mme [nom] est en congé, rappelez au [téléphone].",
    ),
    # e-mail
    (
        "Écrivez-moi à agnes.durand@ville-exemple.fr pour la suite.",
        "Écrivez-moi à [adresse électronique] pour la suite.",
    ),
    (
        "Copie à jean.dupont@gmail.com, notre régisseur.",
        "Copie à [adresse électronique], notre régisseur.",
    ),
    ("Contact : <p.martin@agglo-exemple.fr>", "Contact : <[adresse électronique]>"),
    (
        "Répondre via mailto:regie@ville-exemple.fr merci.",
        "Répondre via [adresse électronique] merci.",
    ),
    ("Adresse : mailto:regie@ville-exemple.fr", ""),
    ("Écrire à jean.dupont [at] orange [point] fr", "Écrire à [adresse électronique]"),
    # postal
    (
        "Le redevable habite 12 rue des Lilas, 75011 Paris.",
        "Le redevable habite [adresse postale].",
    ),
    (
        "Courrier reçu du 3 bis avenue Jean Jaurès, 31000 Toulouse.",
        "Courrier reçu du [adresse postale].",
    ),
    (
        "Envoyer au 5, place de la Mairie 44000 Nantes Cedex 1 merci.",
        "Envoyer au [adresse postale] merci.",
    ),
    ("Domicile : 27 boulevard Gambetta", "Domicile : [adresse postale]"),
    ("Il réside 8 impasse des Peupliers, 97400 Saint-Denis.", "Il réside [adresse postale]."),
    ("Boîte postale : BP 125, 31013 Toulouse Cedex 6", "Boîte postale : [adresse postale]"),
    # plates
    ("Le véhicule AB-123-CD a reçu deux FPS.", "Le véhicule [immatriculation] a reçu deux FPS."),
    (
        "Immatriculation 1234 AB 75, ancien format.",
        "Immatriculation [immatriculation], ancien format.",
    ),
    # greetings, names
    (
        "Bonjour Madame Garnier,\n\nLe tarif applicable est celui de la délibération.",
        "Le tarif applicable est celui de la délibération.",
    ),
    (
        "Madame, Monsieur,\nVoici la réponse.\nBonjour Madame Garnier, le barème est publié.",
        "Voici la réponse.\nBonjour, le barème est publié.",
    ),
    (
        "Voici la réponse.\n\nChère Madame Durand,\nle délai est de deux mois.",
        "Voici la réponse.\n\nChère Madame,\nle délai est de deux mois.",
    ),
    (
        "Bonjour Agnès,\nLe montant du FPS est fixé par la commune.",
        "Le montant du FPS est fixé par la commune.",
    ),
    ("Question posée par M. DUPONT, régisseur.", "Question posée par M. [nom], régisseur."),
    (
        "Monsieur le Maire souhaite savoir si le FPS est exigible.",
        "Monsieur le Maire souhaite savoir si le FPS est exigible.",
    ),
    (
        "Madame la Préfète a transmis la délibération.",
        "Madame la Préfète a transmis la délibération.",
    ),
    (
        "Suite à l'échange avec Mme Sophie Lambert, voici ma question.",
        "Suite à l'échange avec Mme [nom], voici ma question.",
    ),
    (
        "Agnès Durand, chargée du stationnement, demande le calendrier.",
        "[nom], chargée du stationnement, demande le calendrier.",
    ),
    (
        "Comme indiqué par Marie Garnier au téléphone, le décret s'applique.",
        "Comme indiqué par [nom] au téléphone, le décret s'applique.",
    ),
    ("La commune de Saint-Agnès est concernée.", "La commune de Saint-Agnès est concernée."),
    # signatures
    (
        "Le FPS se substitue à l'amende.\n\nCordialement,\n\nMarie Garnier\nBureau du stationnement payant\nDGCL\nLigne directe : 01 40 07 12 34",
        "Le FPS se substitue à l'amende.",
    ),
    ("Le décret est paru.\n--\nMarie Garnier\nTél. 01 40 07 12 34", "Le décret est paru."),
    (
        "La convention type est en ligne.\n\nMarie GARNIER\nChargée de mission\nMinistère de l'Intérieur\nTél. : 01 40 07 12 34",
        "La convention type est en ligne.",
    ),
    (
        "Le barème est libre.\nLigne directe : 01 40 07 12 34\nMobile : 06 11 22 33 44",
        "Le barème est libre.",
    ),
    (
        "La réponse figure à l'article L. 2333-87.\n\nBien cordialement,\nLe bureau des finances locales",
        "La réponse figure à l'article L. 2333-87.",
    ),
    (
        "Le délai est de trois mois.\n\nPaul Lemoine\nRégisseur de recettes\n12 rue des Lilas\n75011 Paris\nTél. 06 12 34 56 78",
        "Le délai est de trois mois.",
    ),
    ("Le montant est de 35 €.\nMarie Garnier – DGCL – 01 40 07 12 34", "Le montant est de 35 €."),
    (
        "Votre question est transmise.\n\nEnvoyé de mon iPhone\nMarie Garnier",
        "Votre question est transmise.",
    ),
    # keep_contacts
    (
        "Pour toute question : decentralisation-stationnement@interieur.gouv.fr.",
        "Pour toute question : decentralisation-stationnement@interieur.gouv.fr.",
    ),
    ("Le standard du ministère : 01 40 07 60 60.", "Le standard du ministère : 01 40 07 60 60."),
    (
        "Standard : 01.40.07.60.60, ou ma ligne au 01 40 07 12 34.",
        "Standard : 01.40.07.60.60, ou ma ligne au [téléphone].",
    ),
    (
        "Voir https://www.legifrance.gouv.fr/jorf/id/JORFTEXT000030607327 pour le texte.",
        "Voir https://www.legifrance.gouv.fr/jorf/id/JORFTEXT000030607327 pour le texte.",
    ),
    # not over-scrubbed
    ("Voir l'article L. 2333-87 du CGCT.", "Voir l'article L. 2333-87 du CGCT."),
    (
        "Le décret n° 2015-557 du 20 mai 2015 précise le barème.",
        "Le décret n° 2015-557 du 20 mai 2015 précise le barème.",
    ),
    (
        "La loi n° 2014-58 du 27 janvier 2014 (MAPTAM) a créé le FPS.",
        "La loi n° 2014-58 du 27 janvier 2014 (MAPTAM) a créé le FPS.",
    ),
    (
        "Le FPS de 35 € est minoré à 25 € s'il est payé sous 96 heures.",
        "Le FPS de 35 € est minoré à 25 € s'il est payé sous 96 heures.",
    ),
    (
        "Réunion le 01/02/2026 à 14 h 30 en salle 12.",
        "Réunion le 01/02/2026 à 14 h 30 en salle 12.",
    ),
    (
        "La commune (SIRET 213 100 407 00012) a signé la convention.",
        "La commune (SIRET 213 100 407 00012) a signé la convention.",
    ),
    ("SIREN : 213100407, code INSEE 31555.", "SIREN : 213100407, code INSEE 31555."),
    ("Le code postal 75011 relève de la zone 2.", "Le code postal 75011 relève de la zone 2."),
    (
        "Article R. 2333-120-1 : le montant est de 1 234 567 € pour 2025.",
        "Article R. 2333-120-1 : le montant est de 1 234 567 € pour 2025.",
    ),
    (
        "Nous avons émis 12 345 FPS en 2024, soit 1 234 567,50 euros.",
        "Nous avons émis 12 345 FPS en 2024, soit 1 234 567,50 euros.",
    ),
    (
        "Le créneau 08:30-12:00 est payant, puis 14.00-19.00.",
        "Le créneau 08:30-12:00 est payant, puis 14.00-19.00.",
    ),
    (
        "Délibération n° 2017/125 du 15 décembre 2017.",
        "Délibération n° 2017/125 du 15 décembre 2017.",
    ),
    (
        "La commune compte 2 places de stationnement réservées et 1 place de livraison.",
        "La commune compte 2 places de stationnement réservées et 1 place de livraison.",
    ),
    (
        "Arrêté du 6 novembre 2015, NOR : INTB1525487A.",
        "Arrêté du 6 novembre 2015, NOR : INTB1525487A.",
    ),
    (
        "Les 3 rues concernées sont payantes depuis le 1er janvier 2018.",
        "Les 3 rues concernées sont payantes depuis le 1er janvier 2018.",
    ),
    (
        "Avis de paiement n° 12345678901234567890123456 de 35 €.",
        "Avis de paiement n° 12345678901234567890123456 de 35 €.",
    ),
    # found by probing: signed names, addresses of equipment, article numbers
    (
        "Madame, Monsieur,\nJe soussignée Claire Dubois, 14 allée des Roses, 69003 Lyon, conteste "
        "le FPS.\nClaire Dubois",
        "Je soussignée [nom], [adresse postale], conteste le FPS.",
    ),
    (
        "L'usager, M. et Mme Martin, demeurant 3 chemin du Moulin à Ploërmel, conteste.",
        "L'usager, M. et Mme [nom], demeurant [adresse postale] à Ploërmel, conteste.",
    ),
    (
        "Oui, c'est possible.\n\nBien à vous,\n\n--\nMarie Garnier\nDGCL / FL2\n"
        "2 place des Saussaies 75008 Paris\n01 40 07 12 34",
        "Oui, c'est possible.",
    ),
    (
        "Nous avons 2 horodateurs rue de la République et 3 avenue Foch.",
        "Nous avons 2 horodateurs rue de la République et 3 avenue Foch.",
    ),
    (
        "Les 10 et 11 rue Pasteur sont en zone rouge.",
        "Les 10 et 11 rue Pasteur sont en zone rouge.",
    ),
    (
        "Le FPS majoré passe de 35 € à 85 € (article R. 2333-120-15).",
        "Le FPS majoré passe de 35 € à 85 € (article R. 2333-120-15).",
    ),
    (
        "Appeler la préfecture au 04 72 61 60 60 ou l'éditeur au 0 811 10 10 10.",
        "Appeler la préfecture au [téléphone] ou l'éditeur au [téléphone].",
    ),
    (
        "Le numéro 3939 (Allô Service Public) renseigne les usagers.",
        "Le numéro 3939 (Allô Service Public) renseigne les usagers.",
    ),
    (
        "Code IBAN de la régie : FR76 1007 1310 0000 0020 0012 345 (trésorerie).",
        "Code IBAN de la régie : [IBAN] (trésorerie).",
    ),
    ("Ligne 2 : 1 234,56 €, ligne 3 : 2 345,67 €.", "Ligne 2 : 1 234,56 €, ligne 3 : 2 345,67 €."),
    (
        "Convention n° 2018-04-1234 signée le 04/04/2018.",
        "Convention n° 2018-04-1234 signée le 04/04/2018.",
    ),
    # written as people write them
    (
        "Tél : +33 (0) 1 23 45 67 89 ou (+33) 6 12 34 56 78 ou +33.6.12.34.56.78.",
        "Tél : [téléphone] ou [téléphone] ou [téléphone].",
    ),
    ("IBAN: fr76 3000 6000 0112 3456 7890 189 svp", "IBAN: [IBAN] svp"),
    ("IBAN: FR76-3000-6000-0112-3456-7890-189 svp", "IBAN: [IBAN] svp"),
    ("RIB : FR76 3000 6000 0112 3456 7890 18 (incomplet)", "RIB : [IBAN] (incomplet)"),
    ("Écrire à AGNES.DURAND@VILLE-EXEMPLE.FR svp", "Écrire à [adresse électronique] svp"),
    ("Question de agnès durand pour le service.", "Question de [nom] pour le service."),
    ("Le service de Mme Martin-Leroy (DGCL) répond.", "Le service de Mme [nom] (DGCL) répond."),
    ("Le dossier de M. Jean-Pierre DURAND est clos.", "Le dossier de M. [nom] est clos."),
    (
        "Mon adresse : 4, rue du Général de Gaulle – 97200 Fort-de-France.",
        "Mon adresse : [adresse postale].",
    ),
    ("Bonjour Agnès Durand, merci de votre question.", "Merci de votre question."),
    ("La réponse est claire : le FPS est dû.", "La réponse est claire : le FPS est dû."),
    # whole mails, as the issue saw them published
    (
        "Bonjour Madame, Monsieur,\n\n"
        "Un usager, M. Bernard Leclerc, demeurant 8 rue des Tilleuls, 59000 Lille, demande le "
        "remboursement d'un FPS payé deux fois sur son compte FR76 3000 4000 0312 3456 7890 143. "
        "Il nous a transmis son numéro de sécurité sociale (1 72 03 59 350 012 45) : faut-il le "
        "conserver ?\n\nBien cordialement,\n\nAgnès Durand\nRégisseuse – Ville d'Exemple\n"
        "Tél. 03 20 12 34 56",
        "Un usager, M. [nom], demeurant [adresse postale], demande le remboursement d'un FPS payé "
        "deux fois sur son compte [IBAN]. Il nous a transmis son numéro de sécurité sociale "
        "([numéro de sécurité sociale]) : faut-il le conserver ?",
    ),
    (
        "Bonjour Madame Durand,\n\nLe remboursement se fait par la régie, sur l'IBAN de l'usager "
        "(FR76 3000 4000 0312 3456 7890 143) ; le NIR ne doit pas être conservé. Pour un cas "
        "précis, écrivez à jean.dupont@gmail.com, qui suit le dossier.\n\n"
        "Marie Garnier\nBureau FL2 – DGCL\nLigne directe : 01 40 07 12 34",
        "Le remboursement se fait par la régie, sur l'IBAN de l'usager ([IBAN]) ; le NIR ne doit "
        "pas être conservé. Pour un cas précis, écrivez à [adresse électronique], qui suit le "
        "dossier.",
    ),
]


def publish(text: str) -> str:
    return scrub(text, *ASKER, keep_contacts=KEEP, identities=[REVIEWER])


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 80


@pytest.mark.parametrize(("written", "published"), CASES)
def test_published_text(written: str, published: str) -> None:
    assert publish(written) == published
