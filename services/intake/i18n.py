"""The web pages' words, in Bahasa Indonesia (default) and English."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("id", "en")

TEXT: dict[str, tuple[str, str]] = {
    "site": ("LAPOR!", "LAPOR!"),
    "tagline": (
        "Layanan Aspirasi dan Pengaduan Online Rakyat",
        "The people's online complaints and aspirations service",
    ),
    "skip": ("Lewati ke isi", "Skip to content"),
    "nav.home": ("Beranda", "Home"),
    "nav.submit": ("Buat laporan", "Make a report"),
    "nav.track": ("Lacak laporan", "Track a report"),
    "nav.browse": ("Telusuri laporan", "Browse reports"),
    "nav.map": ("Peta", "Map"),
    "nav.stats": ("Statistik", "Statistics"),
    "lang.other": ("English", "Bahasa Indonesia"),
    "home.lead": (
        "Sampaikan keluhan, aspirasi, atau permintaan informasi tentang pelayanan publik."
        " Laporan Anda diteruskan ke instansi yang berwenang dan Anda bisa memantau"
        " tindak lanjutnya.",
        "Send a complaint, an aspiration or a request for information about a public service."
        " Your report goes to the institution in charge and you can follow what it does.",
    ),
    "home.steps": ("Cara kerjanya", "How it works"),
    "home.step1": ("Tulis laporan Anda", "Write your report"),
    "home.step2": (
        "Admin memeriksa dalam 3 hari kerja",
        "An administrator checks it within 3 working days",
    ),
    "home.step3": (
        "Instansi menindaklanjuti dalam 5 hari kerja",
        "The institution follows up within 5 working days",
    ),
    "home.step4": (
        "Anda menanggapi dan menilai penanganannya",
        "You answer and rate how it was handled",
    ),
    "home.sms": (
        "Tanpa internet? Kirim SMS ke 1708: <WILAYAH> <isi laporan>.",
        "No internet? Send an SMS to 1708: <REGION> <your report>.",
    ),
    "form.title": ("Buat laporan", "Make a report"),
    "form.classification": ("Jenis laporan", "Kind of report"),
    "class.complaint": ("Pengaduan", "Complaint"),
    "class.complaint.help": (
        "Ada pelayanan publik yang tidak berjalan semestinya.",
        "A public service is not working as it should.",
    ),
    "class.aspiration": ("Aspirasi", "Aspiration"),
    "class.aspiration.help": (
        "Saran atau usul untuk perbaikan pelayanan.",
        "A suggestion to improve a service.",
    ),
    "class.information_request": ("Permintaan informasi", "Information request"),
    "class.information_request.help": (
        "Anda ingin mendapat informasi dari instansi pemerintah.",
        "You want information from a government institution.",
    ),
    "form.report_title": ("Judul laporan", "Title"),
    "form.report_title.help": (
        "Singkat dan jelas, mis. \u201cJalan berlubang di depan SD 3\u201d.",
        "Short and clear, e.g. \u201cPotholes in front of primary school 3\u201d.",
    ),
    "form.body": ("Isi laporan", "What happened"),
    "form.body.help": (
        "Apa yang terjadi, di mana, kapan, dan siapa yang terlibat. Paling sedikit 10 huruf.",
        "What happened, where, when and who was involved. At least 10 characters.",
    ),
    "form.category": ("Kategori", "Category"),
    "form.category.none": ("— pilih kategori (boleh kosong) —", "— choose a category (optional) —"),
    "form.location": ("Lokasi kejadian", "Where it happened"),
    "form.province": ("Provinsi", "Province"),
    "form.regency": ("Kabupaten/Kota", "Regency/City"),
    "form.district": ("Kecamatan", "District"),
    "form.village": ("Desa/Kelurahan", "Village"),
    "form.open_map": ("Tandai di peta", "Mark it on the map"),
    "form.choose": ("— pilih —", "— choose —"),
    "form.pick_region": ("Tampilkan pilihan wilayah berikutnya", "Show the next level of regions"),
    "form.pick_region.help": (
        "Tanpa JavaScript: pilih provinsi lalu tekan tombol ini untuk memilih kabupaten/kota,"
        " lalu kecamatan, lalu desa/kelurahan. Isian Anda tidak hilang, tetapi lampiran perlu"
        " dipilih ulang.",
        "Without JavaScript: choose the province, then press this button to choose the"
        " regency/city, then the district, then the village. What you typed stays; attachments"
        " must be chosen again.",
    ),
    "form.address": ("Alamat atau patokan", "Address or landmark"),
    "form.pin": ("Titik di peta (opsional)", "Point on the map (optional)"),
    "form.pin.help": (
        "Ketuk peta untuk menandai lokasi, pakai lokasi Anda, atau isi lintang/bujur.",
        "Tap the map to mark the place, use your location, or type latitude/longitude.",
    ),
    "form.use_location": ("Pakai lokasi saya", "Use my location"),
    "form.lat": ("Lintang", "Latitude"),
    "form.lon": ("Bujur", "Longitude"),
    "form.event_date": ("Tanggal kejadian", "Date it happened"),
    "form.attachments": ("Lampiran (foto atau PDF)", "Attachments (photos or PDF)"),
    "form.attachments.help": (
        "Paling banyak 5 berkas JPEG, PNG, WebP atau PDF, masing-masing sampai 5 MB. Data lokasi"
        " dan kamera pada foto dihapus otomatis.",
        "Up to 5 JPEG, PNG, WebP or PDF files, 5 MB each. Location and camera data are removed"
        " from photos automatically.",
    ),
    "form.contact": ("Data Anda", "About you"),
    "form.contact.help": (
        "Dipakai hanya untuk memberi kabar tentang laporan ini. Disimpan terenkripsi dan tidak"
        " pernah ditampilkan kepada publik.",
        "Used only to tell you about this report. Stored encrypted and never shown to the public.",
    ),
    "form.name": ("Nama", "Name"),
    "form.phone": ("Nomor telepon/HP", "Phone number"),
    "form.email": ("E-mail", "E-mail"),
    "form.privacy": ("Kerahasiaan", "Privacy"),
    "form.anonymous": ("Anonim", "Anonymous"),
    "form.anonymous.help": (
        "Identitas Anda tidak diberitahukan kepada siapa pun, termasuk instansi yang dilaporkan."
        " Laporannya tetap bisa dibaca publik.",
        "Nobody, including the institution you report, is told who you are. The report itself"
        " can still be read by the public.",
    ),
    "form.confidential": ("Rahasia", "Confidential"),
    "form.confidential.help": (
        "Isi laporan tidak ditampilkan kepada publik. Hanya Anda (dengan kode akses) dan instansi"
        " yang menangani yang dapat membacanya.",
        "The report is not shown to the public. Only you (with the access code) and the"
        " institution handling it can read it.",
    ),
    "form.submit": ("Kirim laporan", "Send report"),
    "form.errors": ("Periksa kembali isian berikut:", "Please check these fields:"),
    "form.optional": ("opsional", "optional"),
    "done.title": ("Laporan terkirim", "Report sent"),
    "done.lead": (
        "Terima kasih. Catat nomor pelacakan dan kode akses di bawah ini: kode akses hanya"
        " ditampilkan sekali dan diperlukan untuk menanggapi, melengkapi, atau menilai laporan.",
        "Thank you. Write down the tracking ID and access code below: the access code is shown"
        " only once and you need it to answer, complete or rate your report.",
    ),
    "done.tracking_id": ("Nomor pelacakan", "Tracking ID"),
    "done.access_code": ("Kode akses", "Access code"),
    "done.view": ("Lihat laporan", "View the report"),
    "track.title": ("Lacak laporan", "Track a report"),
    "track.lead": (
        "Masukkan nomor pelacakan (10 karakter). Untuk laporan rahasia atau untuk menanggapi,"
        " masukkan juga kode akses.",
        "Enter the tracking ID (10 characters). For a confidential report, or to respond,"
        " also enter the access code.",
    ),
    "track.id": ("Nomor pelacakan", "Tracking ID"),
    "track.code": ("Kode akses", "Access code"),
    "track.go": ("Cari", "Find"),
    "track.not_found": (
        "Laporan tidak ditemukan. Jika laporan Anda rahasia, masukkan kode aksesnya.",
        "Report not found. If your report is confidential, enter its access code.",
    ),
    "track.bad_id": (
        "Nomor pelacakan tidak valid. Periksa kembali setiap karakternya.",
        "That tracking ID is not valid. Please check each character.",
    ),
    "track.bad_code": ("Kode akses salah.", "Wrong access code."),
    "report.status": ("Status", "Status"),
    "report.submitted_at": ("Dikirim", "Sent"),
    "report.category": ("Kategori", "Category"),
    "report.region": ("Wilayah", "Region"),
    "report.agency": ("Instansi", "Institution"),
    "report.follow_up_due": ("Batas tindak lanjut", "Follow-up due"),
    "report.channel": ("Saluran", "Channel"),
    "report.anonymous": ("Pelapor anonim", "Anonymous reporter"),
    "report.confidential": ("Laporan rahasia", "Confidential report"),
    "report.attachments": ("Lampiran", "Attachments"),
    "report.attachment_count": ("berkas", "file(s)"),
    "report.timeline": ("Riwayat", "History"),
    "report.reporter": ("Anda pelapor?", "Are you the reporter?"),
    "report.reporter.lead": (
        "Masukkan kode akses untuk melengkapi, menanggapi, menutup, atau menilai laporan.",
        "Enter the access code to complete, answer, close or rate the report.",
    ),
    "report.signed_in": (
        "Anda masuk sebagai pelapor laporan ini.",
        "You are signed in as this report's reporter.",
    ),
    "report.sign_in": ("Masuk", "Sign in"),
    "report.sign_out": ("Keluar", "Sign out"),
    # Security hooks (issue 12): erasure and the access audit on the reporter's page.
    "report.identity_erased": (
        "Identitas dan kontak pelapor telah dihapus (kunci enkripsinya dimusnahkan).",
        "The reporter's identity and contact were erased (their encryption key was destroyed).",
    ),
    "report.reads": ("Siapa yang membaca laporan rahasia ini", "Who read this confidential report"),
    "report.reads.lead": (
        "Setiap kali petugas atau admin membuka laporan rahasia Anda, hal itu dicatat di sini.",
        "Every time an officer or administrator opens your confidential report, it is recorded"
        " here.",
    ),
    "report.reads.none": ("Belum ada yang membaca.", "Nobody has read it yet."),
    "action.amend": ("Lengkapi laporan", "Add missing information"),
    "action.amend.help": (
        "Admin meminta kelengkapan? Tambahkan keterangan atau lampiran di sini.",
        "Did the administrator ask for more? Add details or attachments here.",
    ),
    "action.reply": ("Tanggapi tindak lanjut", "Answer the follow-up"),
    "action.close": ("Selesaikan laporan", "Close the report"),
    "action.close.help": (
        "Masalah sudah tertangani? Tutup laporan ini.",
        "Is the problem solved? Close this report.",
    ),
    "action.rate": ("Beri penilaian", "Rate the handling"),
    "action.rate.help": (
        "1 = sangat buruk, 5 = sangat baik. Nilai 1–2 dalam 14 hari setelah ditutup membuka"
        " kembali laporan.",
        "1 = very poor, 5 = very good. A 1 or 2 within 14 days of closing reopens the report.",
    ),
    "action.text": ("Keterangan", "Text"),
    "action.note": ("Catatan (opsional)", "Note (optional)"),
    "action.rating": ("Nilai", "Rating"),
    "action.comment": ("Komentar (opsional)", "Comment (optional)"),
    "action.send": ("Kirim", "Send"),
    "action.done": ("Terima kasih, sudah kami catat.", "Thank you, that is recorded."),
    "browse.title": ("Telusuri laporan", "Browse reports"),
    "browse.q": ("Kata kunci", "Search words"),
    "browse.all": ("— semua —", "— all —"),
    "browse.filter": ("Tampilkan", "Show"),
    "browse.none": ("Tidak ada laporan yang cocok.", "No matching reports."),
    "browse.more": ("Laporan lebih lama", "Older reports"),
    "map.title": ("Peta laporan", "Map of reports"),
    "map.lead": (
        "Laporan publik yang memiliki titik lokasi. Laporan rahasia tidak ditampilkan.",
        "Public reports with a location. Confidential reports are never shown.",
    ),
    "map.geojson": ("Unduh GeoJSON", "Download GeoJSON"),
    "map.status": ("Status", "Status"),
    "map.agency": ("Instansi", "Institution"),
    "map.count": ("Laporan di peta", "Reports on the map"),
    "map.newest": ("Laporan terbaru dengan lokasi", "Newest reports with a location"),
    "map.offline": (
        "Peta dasar tidak dapat dimuat (tanpa internet?): yang tampil adalah garis pantai"
        " Indonesia dari LAPOR.",
        "The base map could not load (no internet?): showing LAPOR's own outline of Indonesia.",
    ),
    "stats.title": ("Statistik", "Statistics"),
    "stats.total": ("Jumlah laporan", "Reports"),
    "stats.confidential": ("di antaranya rahasia", "of which confidential"),
    "stats.by_status": ("Menurut status", "By status"),
    "stats.by_category": ("Menurut kategori", "By category"),
    "stats.by_province": ("Menurut provinsi", "By province"),
    "stats.by_agency": ("Menurut instansi", "By institution"),
    "stats.on_time": (
        "Ditindaklanjuti tepat waktu",
        "Followed up within the time limit",
    ),
    "stats.on_time.help": (
        "Tindak lanjut pertama paling lambat pada batas waktu, dari semua laporan yang diteruskan.",
        "First follow-up on or before the due date, out of all forwarded reports.",
    ),
    "stats.rating": ("Rata-rata penilaian", "Average rating"),
    "stats.note": (
        "Laporan rahasia hanya dihitung dalam jumlah total.",
        "Confidential reports count only in the total.",
    ),
    "status.submitted": ("Terkirim", "Submitted"),
    "status.completion_requested": ("Perlu dilengkapi", "More information needed"),
    "status.verified": ("Terverifikasi", "Verified"),
    "status.forwarded": ("Diteruskan ke instansi", "Forwarded to the institution"),
    "status.returned": ("Dikembalikan instansi", "Returned by the institution"),
    "status.followed_up": ("Ditindaklanjuti", "Followed up"),
    "status.closed": ("Selesai", "Closed"),
    "status.rejected": ("Ditolak", "Rejected"),
    "event.ReportSubmitted": ("Laporan dikirim", "Report sent"),
    "event.ReportCompletionRequested": ("Admin meminta kelengkapan", "More information requested"),
    "event.ReportAmended": ("Pelapor melengkapi laporan", "The reporter added information"),
    "event.ReportVerified": ("Laporan diverifikasi", "Report verified"),
    "event.ReportRejected": ("Laporan ditolak", "Report rejected"),
    "event.ReportPostponed": ("Verifikasi ditunda", "Verification postponed"),
    "event.ReportReferred": ("Dirujuk ke wilayah lain", "Referred to another region"),
    "event.ProtectionChanged": ("Kerahasiaan diubah", "Privacy changed"),
    "event.ForwardedToOPD": ("Diteruskan ke instansi", "Forwarded to the institution"),
    "event.ReportReturned": ("Dikembalikan oleh instansi", "Returned by the institution"),
    "event.ReportTransferred": ("Dialihkan ke instansi lain", "Transferred to another institution"),
    "event.FollowUpPosted": ("Tindak lanjut instansi", "Follow-up by the institution"),
    "event.ReporterReplied": ("Tanggapan pelapor", "The reporter answered"),
    "event.ReportClosed": ("Laporan selesai", "Report closed"),
    "event.ReportRated": ("Penilaian pelapor", "The reporter rated the handling"),
    "event.ReportReopened": ("Laporan dibuka kembali", "Report reopened"),
    "event.SlaBreached": ("Batas waktu terlewati", "Time limit passed"),
    "event.EscalatedToOmbudsman": ("Diteruskan ke Ombudsman", "Escalated to the Ombudsman"),
    "event.ReportDelegated": ("Diserahkan ke unit instansi", "Handed to a unit of the institution"),
    "event.AdministratorReplied": ("Tanggapan admin LAPOR!", "A LAPOR! administrator answered"),
    "event.PublicTextSet": (
        "Teks publik disunting admin",
        "Public text edited by an administrator",
    ),
    "event.CompletionReminded": ("Pengingat: lengkapi laporan", "Reminder: complete the report"),
    "event.SlaDueSoon": ("Batas waktu segera berakhir", "Time limit ends soon"),
    "kind.interim": ("Tanggapan sementara", "Interim answer"),
    "kind.final": ("Tanggapan akhir", "Final answer"),
    "kind.question": ("Pertanyaan untuk pelapor", "A question for the reporter"),
    "question.lead": (
        "Instansi bertanya kepada Anda. Jawab di bawah agar laporan dapat ditindaklanjuti.",
        "The institution asks you a question. Answer below so it can act on your report.",
    ),
    "closes_on": (
        "Laporan ditutup sebagai tidak lengkap pada",
        "The report closes as incomplete on",
    ),
    "report.unpublished": (
        "Laporan ini belum diterbitkan. Isinya tampil untuk umum setelah admin LAPOR!"
        " memverifikasi dan meneruskannya ke instansi; sampai saat itu hanya status dan"
        " tanggalnya yang terlihat. Pelapor dapat melihat seluruh isinya dengan kode akses.",
        "This report is not published yet. Its content becomes public once a LAPOR!"
        " administrator has verified it and forwarded it to the institution; until then only its"
        " status and dates show. The reporter sees all of it with the access code.",
    ),
    "report.unpublished.title": ("Laporan belum diterbitkan", "Report not published yet"),
    "report.public_text": (
        "Untuk umum, laporan ini tampil dengan teks yang disunting admin (data pribadi dihapus):",
        "The public reads this report in a text edited by an administrator (personal data"
        " removed):",
    ),
    "escalation.title": ("Ombudsman Republik Indonesia", "Ombudsman of the Republic of Indonesia"),
    "escalation.open": (
        "Sudah 60 hari kerja tanpa tanggapan akhir dari instansi (atau 5 hari kerja sejak"
        " laporan dibuka kembali). Anda dapat meneruskan laporan ini ke",
        "60 working days have passed without a final answer from the institution (or 5 working"
        " days since the report was reopened). You may take this report to",
    ),
    "escalation.from": (
        "Jika instansi tidak memberi tanggapan akhir, Anda dapat meneruskan laporan ini ke"
        " Ombudsman RI mulai tanggal",
        "If the institution gives no final answer, you may take this report to the Ombudsman from",
    ),
    "escalation.button": ("Teruskan ke Ombudsman RI", "Take it to the Ombudsman"),
    "escalation.done": (
        "Laporan ini telah diteruskan ke",
        "This report has been taken to",
    ),
    "escalation.sms": (
        "Lewat SMS ke 1708, dari nomor yang Anda pakai melapor:",
        "By SMS to 1708, from the number you reported with:",
    ),
    "error.escalation_not_open": (
        "Laporan ini belum dapat diteruskan ke Ombudsman RI.",
        "This report cannot be taken to the Ombudsman yet.",
    ),
    "error.title": ("Terjadi masalah", "Something went wrong"),
    "error.csrf": (
        "Formulir kedaluwarsa. Muat ulang halaman lalu coba lagi.",
        "The form has expired. Reload the page and try again.",
    ),
    "error.not_found": ("Halaman tidak ditemukan.", "Page not found."),
    "error.too_many": (
        "Terlalu banyak percobaan dari alamat Anda. Coba lagi sebentar lagi.",
        "Too many attempts from your address. Please try again shortly.",
    ),
    "error.conflict": (
        "Tindakan ini tidak bisa dilakukan pada status laporan sekarang.",
        "This cannot be done in the report's current status.",
    ),
    "back": ("Kembali", "Back"),
}


def translator(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = TEXT.get(key)
        return pair[index] if pair else key

    return t
