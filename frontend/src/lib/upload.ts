/** Model upload with XMLHttpRequest: fetch() reports no upload progress, XHR does. */

import { errorFromText } from './errors'

export interface UploadProgress {
  loaded: number
  total: number
}

export interface UploadHandle<T> {
  done: Promise<T>
  cancel: () => void
}

export class UploadCancelled extends Error {
  constructor() {
    super('upload cancelled')
  }
}

export function uploadFile<T>(
  url: string,
  file: Blob,
  token: string,
  onProgress: (p: UploadProgress) => void,
): UploadHandle<T> {
  const xhr = new XMLHttpRequest()
  const done = new Promise<T>((resolve, reject) => {
    xhr.open('POST', url)
    xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.setRequestHeader('Content-Type', 'application/octet-stream')
    xhr.responseType = 'text'
    xhr.upload.onprogress = (e) => onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size })
    xhr.onload = () => {
      if (xhr.status < 200 || xhr.status >= 300) {
        reject(errorFromText(xhr.status, xhr.responseText, 'upload failed'))
        return
      }
      try {
        resolve(JSON.parse(xhr.responseText) as T)
      } catch {
        resolve(xhr.responseText as T)
      }
    }
    xhr.onerror = () => reject(new Error('network error during upload'))
    xhr.onabort = () => reject(new UploadCancelled())
    xhr.send(file)
  })
  return { done, cancel: () => xhr.abort() }
}
